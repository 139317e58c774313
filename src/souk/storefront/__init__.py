"""The storefront: read models of the public pages (home, listings, product, store)."""
