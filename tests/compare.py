"""Re-export of ``bench.fixtures`` (its home: bench/ must not import tests/, tests may use bench/)."""

from bench.fixtures import (  # noqa: F401
    FIXTURES_DIR,
    VARIANTS,
    FixtureCase,
    all_cases,
    arrow_case,
    artifacts_dir,
    assert_matches_target,
    lm_models,
    load_cases,
    result_key,
)
