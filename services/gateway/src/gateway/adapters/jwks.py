"""The public keys that verify tokens, fetched from identity at start and again (at most every
``refetch_interval_s``) when a token names a key the gateway does not have yet (rotation)."""

from __future__ import annotations

import asyncio
import logging
import time

from trackstream.identity.v1 import identity_service_pb2 as pb
from trackstream.identity.v1 import identity_service_pb2_grpc as pb_grpc
from trackstream_auth import TokenVerifier, parse_jwks

log = logging.getLogger(__name__)


class KeyRing:
    def __init__(self, identity: pb_grpc.IdentityServiceStub, *, refetch_interval_s: float) -> None:
        self._identity = identity
        self._interval = refetch_interval_s
        self.verifier = TokenVerifier({})
        self.jwks_json = '{"keys":[]}'
        self._last_fetch = float("-inf")
        self._lock = asyncio.Lock()

    @property
    def loaded(self) -> bool:
        return bool(self.verifier.key_ids)

    async def fetch(self, timeout_s: float = 5.0) -> None:
        async with self._lock:
            self._last_fetch = time.monotonic()
            response = await self._identity.GetJwks(pb.GetJwksRequest(), timeout=timeout_s)
            keys = parse_jwks(response.jwks_json)
            self.verifier.replace_keys(keys)
            self.jwks_json = response.jwks_json
            log.info("signing keys loaded", extra={"keys": len(keys)})

    async def refresh_for(self, token: str) -> None:
        """Refetch when ``token`` names an unknown key, unless fetched very recently."""
        if not self.verifier.unknown_key(token):
            return
        if time.monotonic() - self._last_fetch < self._interval:
            return
        try:
            await self.fetch()
        except Exception as err:
            log.warning("signing keys not refetched: %s", type(err).__name__)
