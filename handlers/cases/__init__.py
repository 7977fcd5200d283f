"""Cases and reports: a chat's investigations as typed entities and links, exported for stakeholders."""
