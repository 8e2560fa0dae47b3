"""What a refused filter says points at the place to fix, also with spaces around it and
when the condition is empty (README, "The contact filter"; found by `make mutate`)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from exchange_sync.contact_filter import MAX_EXPRESSION_LENGTH, contact_filter_validate
from exchange_sync.filter_syntax import AnyOf, FilterSyntaxError, Match, Range, filter_parse

NO_VALUE = "To ask for a blank value, write ''."


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", f"There is no value in the condition. {NO_VALUE}"),
        ("   ", f"There is no value in the condition. {NO_VALUE}"),
        ("London|  ", f'There is no value after "|". {NO_VALUE}'),
        ("A&(B|  )", f'There is no value after "|" and before ")". {NO_VALUE}'),
        (
            "ab=cd|x",
            '"=" can only start a condition, not stand inside "ab=cd". Put a value that contains it in quotes.',
        ),
        (
            "Lo>ndon|Paris",
            '">" can only start a condition, not stand inside "Lo>ndon". Put a value that contains it in quotes.',
        ),
        (
            "Paris|Lo>ndon",
            '">" can only start a condition, not stand inside "Lo>ndon". Put a value that contains it in quotes.',
        ),
        ("A|<>", "\"<>\" needs a value after it (for a blank value write <>'')."),
        ("@", '"@" needs a value after it.'),
        ("A....B", f'There is no value before ".". {NO_VALUE}'),
        ("A..@b", '"@" (any case) cannot be used with "..": it compares exactly.'),
        ("A..b*", '"*" and "?" cannot be used with ".." (in "b*").'),
    ],
)
def test_a_refused_filter_says_where_the_problem_is(expression, message):
    with pytest.raises(FilterSyntaxError) as refused:
        filter_parse(expression)
    assert str(refused.value) == message


@pytest.mark.parametrize("expression", ["Xanten", "MAX*|Xavier", "@xanten"])
def test_a_value_with_any_letter_is_a_value(expression):
    filter_parse(expression)


def test_a_range_open_below_reads_the_same_after_another_condition():
    assert filter_parse("A|..B") == AnyOf((Match("A"), Range(None, "B")))


def test_a_value_as_long_as_its_field_is_allowed_and_one_character_longer_is_refused():
    assert contact_filter_validate({"country_region_code": "A" * 10}) == {"country_region_code": "A" * 10}
    with pytest.raises(ValidationError) as refused:
        contact_filter_validate({"country_region_code": "A" * 11})
    assert "holds at most 10 characters" in str(refused.value)


def test_a_quoted_value_can_start_a_range():
    assert filter_parse("'A B'..'C D'") == Range("A B", "C D")
    assert filter_parse("X|'A'..B") == AnyOf((Match("X"), Range("A", "B")))


@pytest.mark.parametrize(
    ("contact_filter", "message"),
    [
        (["city"], "The contact filter must be a set of field conditions."),
        ({"city": "Lon\x00don"}, "The condition on City contains a control character (such as NUL or a line break)."),
        ({"city": "", "county": "Kent|"}, 'There is no value after "|".'),
        ({"nickname": "Bo"}, "Contacts cannot be filtered on 'nickname'. Use one of: "),
    ],
)
def test_a_filter_that_cannot_be_used_says_why(contact_filter, message):
    with pytest.raises(ValidationError) as refused:
        contact_filter_validate(contact_filter)
    assert message in " ".join(refused.value.messages)


def test_the_list_of_fields_a_filter_can_use_is_written_for_a_person():
    with pytest.raises(ValidationError) as refused:
        contact_filter_validate({"nickname": "Bo"})
    assert ", City, " in refused.value.messages[0]


def test_a_condition_as_long_as_allowed_is_used():
    expression = "|".join(["London"] * 200)[:MAX_EXPRESSION_LENGTH].rstrip("|")
    expression = expression + "L" * (MAX_EXPRESSION_LENGTH - len(expression))
    assert contact_filter_validate({"city": expression}) == {"city": expression}
