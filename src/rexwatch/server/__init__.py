"""Running the server process: data-dir lock, stores, uvicorn, clean shutdown."""
