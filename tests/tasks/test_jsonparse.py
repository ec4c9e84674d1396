from minimax_cli.tasks.jsonparse import find_json, flat_objects


def test_fenced_json_wins_over_prose():
    assert find_json('Answer [1] below:\n```json\n{"a": 1}\n```\nthanks') == {"a": 1}


def test_trailing_commas_python_literals_and_raw_newlines():
    assert find_json('{"a": [1, 2,],}') == {"a": [1, 2]}
    assert find_json("{'a': True, 'b': None}") == {"a": True, "b": None}
    assert find_json('{"a": "two\nlines"}') == {"a": "two\nlines"}


def test_accept_skips_values_the_caller_does_not_want():
    assert find_json('see [3] and {"answer": "x"}', lambda v: isinstance(v, dict)) == {"answer": "x"}
    assert find_json("no json here") is None


def test_flat_objects_recovers_the_good_ones():
    found = flat_objects('[{"a": 1}, {"b": 2 "c": 3}, {"d": "}"}]')
    assert [value for _, value in found] == [{"a": 1}, None, {"d": "}"}]
