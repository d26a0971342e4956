"""The chain tests' session anvil and devnet (tests/chain/conftest.py), reused rather than copied."""

from tests.chain.conftest import anvil, devnet_session, net  # noqa: F401  (pytest fixtures)
