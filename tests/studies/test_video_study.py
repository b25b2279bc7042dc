"""The video study (studies/video_study.py): a world clip's rows, the floors, the shipped numbers it reads."""
from reprolib.studies import video_study
from reprolib.video.temporal import VIDEO_METHODS


def test_a_world_clip_is_scored_for_every_method_gray_and_the_truth():
    result = video_study.world_job(0)
    rows = result["rows"]
    assert set(rows) == {*VIDEO_METHODS, "gray", "truth"}
    assert rows["truth"]["ciede2000"] == 0 and rows["gray"]["colourfulness"] < 0.1
    assert rows["filter"]["warp_error"] < rows["per_frame"]["warp_error"]  # what the methods are for


def test_the_floors_compare_each_temporal_method_with_per_frame():
    rows = {"per_frame": {"warp_error": 2.0, "ciede2000": 10.0, "colourfulness": 40.0},
            "filter": {"warp_error": 1.0, "ciede2000": 10.5, "colourfulness": 36.0},
            "recurrent": {"warp_error": 1.1, "ciede2000": 10.6, "colourfulness": 35.0},
            "gray": {"warp_error": 0.5, "ciede2000": 12.0, "colourfulness": 0.0}}
    floors = video_study.floors(rows)
    assert set(floors) == {"filter", "recurrent"}
    assert all(floors["filter"].values())
    assert not any(floors["recurrent"].values())


def test_the_shipped_study_has_every_group_and_method():
    study = video_study.shipped()
    assert set(study["groups"]) == set(video_study.GROUPS)
    assert all({*VIDEO_METHODS, "gray", "truth"} == set(rows) for rows in study["groups"].values())
    assert study["long_clip"]["frames"] == 132
