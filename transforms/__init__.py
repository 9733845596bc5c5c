"""Pure pandas: frames and typed config in, frames out. No I/O, no Prefect, no SQLAlchemy."""
