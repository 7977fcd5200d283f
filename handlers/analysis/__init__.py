"""Analyses of stored posts: profile, time zone, network, sentiment, IOCs, geolocation, trends, coordination."""
