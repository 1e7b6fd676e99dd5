"""The web app where people act: HTTP API, console pages and websocket push."""
