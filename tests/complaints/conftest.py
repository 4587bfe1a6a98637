import pytest

from keycare.complaints import taxonomy, textmodel
from keycare.synth.complaints import sample

TRAIN_SIZE = 3000


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory):
    """A KEYCARE_HOME with a small trained complaint-text model (seconds to train)."""
    home = tmp_path_factory.mktemp("home")
    data = sample(TRAIN_SIZE, seed=3)
    model = textmodel.train(data["text"], data["cause"], data["need"], taxonomy.load().version)
    textmodel.save(model, home / "models" / "complaints")
    return home


@pytest.fixture
def home(trained_home, settings):
    settings.KEYCARE_HOME = trained_home
    return trained_home


@pytest.fixture(autouse=True)
def chinese():
    """Labels follow the active language; a page test run before may have left English on."""
    from django.utils import translation

    with translation.override("zh-hans"):
        yield
