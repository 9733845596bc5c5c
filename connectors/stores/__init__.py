"""Online stores (Shopify, Amazon SP-API, WooCommerce) read over their APIs into warehouse-shaped frames.

Public API::

    open_streams(store, settings, policy=None) -> list[Stream]   # credentials from env / Secret blocks
    Stream.pages(window, token) -> Iterator[Page]                # I/O, see connectors.stores.base
    Stream.parse_page(page, window) -> Parsed                    # pure
    build_frames(parsed, store, settings, known) -> (frames, unattributed)
    StoreError, AuthFailed, MissingCredential, ResumeRejected

The sync itself (windows, cursor, one transaction per batch with its cursor) is
:mod:`flows.stores`; the warehouse side is :mod:`warehouse.store_loads`.
"""

from __future__ import annotations

from config.models import Settings, StoreSource
from connectors.stores.base import MissingCredential, Page, Stream, credentials
from connectors.stores.http import AuthFailed, ResumeRejected, RetryPolicy, StoreError, Window
from connectors.stores.records import Parsed, build_frames, rejects_frame

__all__ = [
    "AuthFailed", "MissingCredential", "Page", "Parsed", "ResumeRejected", "RetryPolicy", "StoreError", "Stream",
    "Window", "build_frames", "open_streams", "rejects_frame",
]


def open_streams(store: StoreSource, settings: Settings, policy: RetryPolicy | None = None) -> list[Stream]:
    """The store's streams, authenticated; raises MissingCredential when a credential is not set."""
    from connectors.stores.amazon import amazon_streams
    from connectors.stores.shopify import shopify_streams
    from connectors.stores.woocommerce import woocommerce_streams

    policy = policy or RetryPolicy(max_attempts=store.max_attempts)
    creds = credentials(store)
    factory = {"shopify": shopify_streams, "amazon": amazon_streams, "woocommerce": woocommerce_streams}[store.platform]
    return factory(store, settings, creds, policy)
