"""What commands do. Handlers never import a chat library: they take a Context and return a Reply."""
