"""The client side: hooks inside the traced program that record each HTTP call.

NOTE: everything under ``capture/`` runs inside traced programs and services: any Python
from 3.8 on, nothing but the standard library and what the program itself imports.
"""
