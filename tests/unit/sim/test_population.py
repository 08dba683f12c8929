import tracemalloc
from collections import Counter
from datetime import UTC, datetime

import pytest

from kabuguard.broker.symbols import load_symbols
from kabuguard.domain.assurance import Method
from kabuguard.sim.population import (
    PROFILE_METHODS,
    generate_population,
    packaged_networks,
    sim_token,
    to_account_record,
)
from kabuguard.sim.scenario import load_scenario

AS_OF = datetime(2025, 4, 1, 9, tzinfo=UTC)
SYMBOLS = load_symbols()


@pytest.fixture(scope="module")
def scenario():
    return load_scenario()


@pytest.fixture(scope="module")
def big(scenario):
    return list(generate_population(scenario, customers=20_000, seed=7,
                                    symbols=SYMBOLS.values()))


def test_customer_i_does_not_depend_on_population_size(scenario):
    small = list(generate_population(scenario, customers=100, seed=3, symbols=SYMBOLS.values()))
    large = list(generate_population(scenario, customers=1_000, seed=3, symbols=SYMBOLS.values()))
    assert small == large[:100]
    sliced = list(generate_population(scenario, customers=10, seed=3, start=500,
                                      symbols=SYMBOLS.values()))
    assert sliced == large[500:510]
    other_seed = next(generate_population(scenario, customers=1, seed=4,
                                          symbols=SYMBOLS.values()))
    assert other_seed != large[0]


def test_shares_converge_to_the_scenario(scenario, big):
    n = len(big)

    def close(counter, shares, tolerance=0.012):
        for name, share in shares.items():
            assert abs(counter[name] / n - share) < tolerance, (name, counter[name] / n, share)

    close(Counter(c.activity for c in big), scenario.activity)
    close(Counter(c.method_profile for c in big), scenario.methods)
    close(Counter(c.trading_style for c in big), scenario.trading_styles)
    close(Counter(len(c.devices) for c in big), scenario.devices)
    assert abs(sum(c.vpn_user for c in big) / n - scenario.vpn_user_share) < 0.005
    assert abs(sum(c.traveller for c in big) / n - scenario.traveller_share) < 0.01
    kinds = Counter(frozenset(x.kind for x in c.networks if x.country == "JP"
                              and x.kind != "vpn") for c in big)
    residential = kinds[frozenset({"residential", "mobile"})] / n
    assert abs(residential - scenario.home_networks["residential_and_mobile"]) < 0.012
    # Log-normal wealth: the sample median is near the scenario's.
    cash = sorted(c.cash_jpy for c in big)
    assert 0.9 < cash[n // 2] / scenario.cash.median_jpy < 1.1


def test_holdings_use_listed_symbols_in_whole_lots(big):
    styles_with_small = Counter()
    for c in big:
        assert c.holdings, c
        for symbol, quantity in c.holdings:
            listed = SYMBOLS[symbol]
            assert quantity > 0
            assert quantity % listed.lot_size == 0, (symbol, quantity)
            if listed.is_tse:
                assert listed.lot_size == 100
            if listed.adv_jpy < 100_000_000 and listed.is_tse:
                styles_with_small[c.trading_style] += 1
    # Habitual small-cap traders hold the thin names; long-term holders do not.
    assert styles_with_small["small_cap_habitual"] > 0
    assert styles_with_small["long_term"] == 0


def test_methods_are_interchange_names(big):
    for c in big[:2_000]:
        assert c.methods == PROFILE_METHODS[c.method_profile]
        assert {Method(m) for m in c.methods} >= {Method.PASSWORD}


def test_every_address_classifies_as_intended(big):
    _, ranges, _ = packaged_networks()
    seen = Counter()
    for c in big:
        assert 1 <= len(c.devices) <= 3
        for net in c.networks:
            info = ranges.lookup(net.ip)
            assert (info.country, info.asn, info.kind) == (net.country, net.asn, net.kind)
            seen[net.kind, net.country == "JP"] += 1
    assert seen["residential", True] and seen["mobile", True]
    assert seen["vpn", True] + seen["vpn", False] and seen["residential", False]
    assert not (seen["hosting", True] or seen["hosting", False])


def test_account_record_has_the_spec_fields_and_types(scenario):
    customer = next(generate_population(scenario, customers=1, seed=1,
                                        symbols=SYMBOLS.values()))
    record = to_account_record(customer, as_of=AS_OF, cipher_token=sim_token(1))
    assert isinstance(record["account"], str)
    assert datetime.fromisoformat(record["opened"]).date() <= AS_OF.date()
    assert record["methods_enrolled"] == list(customer.methods)
    assert isinstance(record["cash_jpy"], int)
    assert all(set(h) == {"symbol", "quantity"} and isinstance(h["quantity"], int)
               for h in record["holdings"])
    assert record["home_country"] == "JP"
    for device in record["devices"]:
        assert set(device) == {"device", "user_agent", "last_seen"}
        assert datetime.fromisoformat(device["last_seen"]) <= AS_OF
    for net in record["networks"]:
        assert set(net) == {"ip", "ip_asn", "ip_country", "ip_kind", "last_seen"}
        assert isinstance(net["ip_asn"], int)
    assert record["bank_account"].startswith("bank_")
    assert customer.bank_account not in str(record)


def _peak(scenario, customers):
    tracemalloc.start()
    try:
        for _ in generate_population(scenario, customers=customers, seed=1,
                                     symbols=SYMBOLS.values()):
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_population(scenario):
    small, large = _peak(scenario, 2_000), _peak(scenario, 20_000)
    assert large < small * 1.1 + 64 * 1024, (small, large)


def test_negative_counts_are_refused(scenario):
    with pytest.raises(ValueError, match="must not be negative"):
        next(generate_population(scenario, customers=-1, seed=1, symbols=SYMBOLS.values()))
