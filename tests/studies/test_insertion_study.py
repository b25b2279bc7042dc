"""The insertion experiment as jobs: the same numbers in one process or two, the summary it builds."""
from reprolib.studies import insertion_study

TINY = dict(seeds=(0, 1), steps=2, eval_n=8, direct_seeds=(0,), reversal_seeds=(), oracle_seeds=(), width=4,
            batch_size=2)


def test_one_process_or_two_give_the_same_numbers():
    one = insertion_study.experiment(**TINY, workers=1)
    two = insertion_study.experiment(**TINY, workers=2)
    for res in (one, two):
        res.pop("seconds")
        generators = {k: res.pop(k) for k in list(res) if k.startswith("_")}
        assert set(generators) == {"_without_pair_discriminator_generator", "_with_pair_discriminator_generator",
                                   "_pair_discriminator_matte_held_generator",
                                   "_direct_with_pair_discriminator_generator"}
    assert one == two
    assert one["with_pair_discriminator"]["seeds"] == [0, 1] and len(one["with_pair_discriminator"]["per_seed"]) == 2
    assert set(one) >= {"without_pair_discriminator", "with_pair_discriminator", "direct_with_pair_discriminator",
                        "blending_vs_direct", "references", "settings"}
    assert "gradient_reversal" not in one and one["settings"]["width"] == 4
    assert one["pair_discriminator_matte_held"]["hold_matte"] and not one["with_pair_discriminator"]["hold_matte"]
    assert set(one["fair_test"]) == {"with_pair_discriminator", "pair_discriminator_matte_held"}
    for test in one["fair_test"].values():  # one row per seed, each with its erase baseline and faded copy
        assert [t["seed"] for t in test["per_seed"]] == [0, 1]
        assert all(t["erase"] == one["erase_object_baseline"]["real_pair_error_mean"] for t in test["per_seed"])
        assert test["holds"] == all(t["holds"] for t in test["per_seed"])


def test_the_jobs_are_one_per_run_and_seed():
    jobs = insertion_study.experiment_jobs(**TINY)
    assert sorted(jobs) == sorted(["without_pair_discriminator/seed 0", "without_pair_discriminator/seed 1",
                                   "with_pair_discriminator/seed 0", "with_pair_discriminator/seed 1",
                                   "pair_discriminator_matte_held/seed 0", "pair_discriminator_matte_held/seed 1",
                                   "direct_with_pair_discriminator/seed 0", "references"])
    kept = {k: j.kwargs["keep_generator"] for k, j in jobs.items() if k != "references"}
    assert kept == {k: k.endswith("seed 0") for k in kept}  # the first seed's generator, for pictures
