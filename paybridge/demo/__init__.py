"""`make demo`: the PayBridge pipeline end to end on this machine, with embedded defaults.

A real local chain (anvil, with the test tokens compiled from ``contracts/``), the NetSuite
simulator on loopback, a fresh SQLite store: invoices come from NetSuite and from a CSV file,
become payment requests, customers pay on chain (exactly, too little, too much, in ETH), the
watcher records it, the reconciliation decides, and settlements are posted back to NetSuite.
Everything is local test infrastructure; nothing here touches a real chain or ERP.
"""
