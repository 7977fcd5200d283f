"""Investigation workflows: a playbook per identifier type, automated where possible, a checklist where not."""
