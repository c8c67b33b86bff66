"""The Start here page under AppTest (issue 28): the root URL, its lessons and glossary, the
glossary links in Train's help, an old root link to a setup still opening Train, and a lesson
run through the job queue to its check sentence."""

from __future__ import annotations

import time
from pathlib import Path

from mnist_core.train.lessons import LESSONS
from tests.test_app import (  # noqa: F401  (fixtures)
    app_env,
    assert_clean,
    live_panels,
    new_app,
    pretrained_dir,
)
from ui import keys
from ui.start.glossary import TERMS, link
from ui.train_form.fields import settings
from ui.train_form.labels import GLOSSARY_TERMS


def test_the_root_is_start_here_with_every_lesson(app_env: Path) -> None:  # noqa: F811
    at = new_app(page=None).run()
    assert_clean(at)
    assert [t.value for t in at.title] == ["Start here"]
    assert [e.label for e in at.expander] == [f"**{x.title}**" for x in LESSONS]
    assert [h.value for h in at.subheader] == [t.title for t in TERMS]
    assert [b.key for b in at.button] == [f"start_run_{x.key}" for x in LESSONS]


def test_an_old_root_link_to_a_setup_still_opens_train(app_env: Path) -> None:  # noqa: F811
    at = new_app(page=None)
    at.query_params["model"] = "mlp"
    at.run()
    assert [t.value for t in at.title] == ["Train a model"]
    assert at.session_state[keys.TRAIN_MODEL] == "mlp"


def test_trains_help_links_each_word_to_its_glossary_entry() -> None:
    helps = {s.name: s.help for s in settings()}
    for name, term in GLOSSARY_TERMS.items():
        assert helps[name].endswith(link(term)), name
    assert link("epoch") == "[Epoch in the glossary](/#epoch)"


def test_a_lesson_runs_through_the_queue_to_its_check(app_env: Path) -> None:  # noqa: F811
    at = new_app(page=None).run()
    at.button(key="start_run_module").click().run()
    assert_clean(at)  # the lesson's live panel's parts while it runs ...
    assert "live_lesson_module" in live_panels(at)
    deadline = time.monotonic() + 120
    while not at.success and time.monotonic() < deadline:
        time.sleep(1)
        at.run()
    assert_clean(at)  # ... and once it has ended
    sentence = at.success[0].value
    assert "218,058 parameters" in sentence and "same" in sentence, sentence
    # The run is a model of this visitor's, named after the lesson.
    names = [m.name for m in at.session_state[keys.START_DONE]["module"][1].snaps.values()]
    assert names == ["Inside the module · MLP"]
