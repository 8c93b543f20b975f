"""Messages to people: wording (pure) and delivery (outbox or SMTP)."""
