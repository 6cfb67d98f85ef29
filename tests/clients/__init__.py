"""Third-party clients, written as their publishers document them, run against servekit."""
