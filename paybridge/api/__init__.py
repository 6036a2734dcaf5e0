"""The payment API (FastAPI): create-order, read, list, cancel; QR codes of payment links.

Imported only by ``paybridge api`` and tests, never at CLI start-up.
"""
