"""The Textual face of labrunner: a lab list and a lab view over the engine.

Nothing in here talks Kubernetes itself; every cluster call goes through
`backend.Backend` and runs in a thread worker.
"""
