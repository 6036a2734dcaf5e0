"""Payment orders created through the API: the seed's create-order body turned into a payment
request (same quote, address derivation and audit as ERP invoices), read, listed, cancelled."""
