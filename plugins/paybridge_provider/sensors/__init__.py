"""Sensors that defer to PayBridge's triggers instead of polling in a worker."""
