"""The FastAPI app, page layout and static assets."""
