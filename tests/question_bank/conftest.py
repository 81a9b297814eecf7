"""Fixtures for the question bank tests: the sample bank, a signing key, a built package."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from question_bank.assembly import Assembly, BankIndex, assemble
from question_bank.blueprint import Blueprint
from question_bank.items import Item
from question_bank.package import Part, build_package, new_secret, seal_sitting
from question_bank.sample import load_sample_bank, load_sample_blueprints

CREATED = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def sample_items() -> list[Item]:
    return load_sample_bank()


@pytest.fixture(scope="session")
def sample_blueprints() -> dict[str, Blueprint]:
    return {b.blueprint_id: b for b in load_sample_blueprints()}


@pytest.fixture(scope="session")
def sample_index(sample_items: list[Item]) -> BankIndex:
    return BankIndex(sample_items)


@pytest.fixture(scope="session")
def central_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@dataclass
class BuiltPackage:
    data: bytes
    assemblies: list[Assembly]
    secrets: dict[str, tuple[bytes, bytes]]
    centre: str


@pytest.fixture(scope="session")
def built(
    sample_index: BankIndex, sample_blueprints: dict[str, Blueprint], central_key: Ed25519PrivateKey
) -> BuiltPackage:
    assemblies = [
        assemble(
            sample_index, sample_blueprints["ZYDD-L5"], "t-seed", 2, sitting_code="T26-ZYDD-L5"
        ),
        assemble(
            sample_index, sample_blueprints["GWJN-DG-L4"], "t-seed", 2, sitting_code="T26-DG-L4"
        ),
    ]
    secrets = {a.sitting_code: (new_secret(), new_secret()) for a in assemblies}
    sealed = [seal_sitting(a.papers, *secrets[a.sitting_code]) for a in assemblies]
    data = build_package(
        centre_code="410101",
        sittings=sealed,
        signing_key=central_key,
        created=CREATED,
        package_id="pkg-test",
        extra_parts=[Part.json("roster.json", {"candidates": [{"ticket": "202611220001"}]})],
    )
    return BuiltPackage(data, assemblies, secrets, "410101")
