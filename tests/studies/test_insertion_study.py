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
                                   "_direct_with_pair_discriminator_generator"}
    assert one == two
    assert one["with_pair_discriminator"]["seeds"] == [0, 1] and len(one["with_pair_discriminator"]["per_seed"]) == 2
    assert set(one) >= {"without_pair_discriminator", "with_pair_discriminator", "direct_with_pair_discriminator",
                        "blending_vs_direct", "references", "settings"}
    assert "gradient_reversal" not in one and one["settings"]["width"] == 4


def test_the_jobs_are_one_per_run_and_seed():
    jobs = insertion_study.experiment_jobs(**TINY)
    assert sorted(jobs) == sorted(["without_pair_discriminator/seed 0", "without_pair_discriminator/seed 1",
                                   "with_pair_discriminator/seed 0", "with_pair_discriminator/seed 1",
                                   "direct_with_pair_discriminator/seed 0", "references"])
    kept = {k: j.kwargs["keep_generator"] for k, j in jobs.items() if k != "references"}
    assert kept == {k: k.endswith("seed 0") for k in kept}  # the first seed's generator, for pictures
