import pandas as pd

from loopwatch.tasks.tabular import adult

RAW_DATA = (
    "39, State-gov, 77516, Bachelors, 13, Never-married, Adm-clerical, Not-in-family, White, "
    "Male, 2174, 0, 40, United-States, <=50K\n"
    "50, ?, 83311, Bachelors, 13, Married-civ-spouse, ?, Husband, White, Male, 0, 0, 13, ?, >50K\n"
    "\n"
)
RAW_TEST = (
    "|1x3 Cross validator\n"
    "25, Private, 226802, 11th, 7, Never-married, Machine-op-inspct, Own-child, Black, Male, "
    "0, 0, 40, United-States, <=50K.\n"
    "38, Private, 89814, HS-grad, 9, Married-civ-spouse, Farming-fishing, Husband, White, Male, "
    "0, 0, 50, United-States, >50K.\n"
)


def test_clean_strips_marks_missing_and_types(tmp_path):
    path = tmp_path / "adult.data"
    path.write_text(RAW_DATA)
    frame = adult.clean(adult.read_raw(path))
    assert list(frame.columns) == adult.COLUMNS
    assert len(frame) == 2  # the blank line is not a row
    assert frame.loc[0, "workclass"] == "State-gov"  # leading space stripped
    assert pd.isna(frame.loc[1, "workclass"]) and pd.isna(frame.loc[1, "native_country"])
    assert frame["age"].dtype == "float64" and frame.loc[0, "capital_gain"] == 2174.0


def test_test_file_header_and_label_dots(tmp_path):
    path = tmp_path / "adult.test"
    path.write_text(RAW_TEST)
    frame = adult.clean(adult.read_raw(path))
    assert len(frame) == 2  # the "|1x3 Cross validator" line is skipped
    assert set(frame["income"]) == {"<=50K", ">50K"}  # '>50K.' spelled like adult.data


def test_prepare_explains_missing_raw_files(tmp_path):
    import pytest

    with pytest.raises(FileNotFoundError, match="loopwatch data fetch adult"):
        adult.prepare(tmp_path, 0.2, 0)


def test_sensitive_attributes_are_not_inputs_by_default():
    spec = adult.spec()
    assert "sex" not in spec.inputs and "race" not in spec.inputs
    assert "age" in spec.inputs
    assert {"sex", "race"} <= set(adult.spec(sensitive_as_inputs=True).inputs)
