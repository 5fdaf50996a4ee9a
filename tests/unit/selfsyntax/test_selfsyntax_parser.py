"""The parser against a table of expressions and their fully parenthesised form."""

from __future__ import annotations

import pickle

import pytest

from batos_core.selfsyntax.ast import (
    Assign,
    Cascade,
    Literal,
    LiteralArray,
    Message,
    Name,
    ObjectLiteral,
    OidRef,
    Program,
    SelfRef,
    Send,
    SlotDecl,
    Symbol,
    unparse,
)
from batos_core.selfsyntax.errors import SelfSyntaxError
from batos_core.selfsyntax.parser import parse

# (source, the program printed back with every send parenthesised)
PARSES = [
    # unary, binary, keyword and precedence
    ("genesis printString", "(genesis printString)"),
    ("genesis clone printString", "((genesis clone) printString)"),
    ("3 + 4", "(3 + 4)"),
    ("3 + 4 * 2", "((3 + 4) * 2)"),
    ("3 + 4 factorial", "(3 + (4 factorial))"),
    ("3+4", "(3 + 4)"),
    ("3-2", "(3 - 2)"),
    ("x-1", "(x - 1)"),
    ("3 - -2", "(3 - -2)"),
    ("a // b \\\\ c", "((a // b) \\\\ c)"),
    ("a <= b", "(a <= b)"),
    ("a ~= b", "(a ~= b)"),
    ("a == b", "(a == b)"),
    ("'a' , 'b' , 'c'", "(('a' , 'b') , 'c')"),
    ("a & b | c", "((a & b) | c)"),
    ("p @ q", "(p @ q)"),
    ("genesis setSlot: 'x' value: 3", "(genesis setSlot: 'x' value: 3)"),
    ("a at: 1 Put: 2", "(a at: 1 put: 2)"),
    ("a at: 1 put: 2", "(a at: 1 put: 2)"),
    ("a foo: b bar + 1 baz: c", "(a foo: ((b bar) + 1) baz: c)"),
    ("a foo: (b bar: c)", "(a foo: (b bar: c))"),
    ("(3 + 4) * 2", "((3 + 4) * 2)"),
    ("3 + (4 * 2)", "(3 + (4 * 2))"),
    ("((genesis))", "genesis"),
    # cascades
    ("obj foo; bar: 1", "(obj foo; bar: 1)"),
    ("obj a b; c; + 2; d: 3 e: 4", "((obj a) b; c; + 2; d: 3 e: 4)"),
    ("x foo: 1; bar", "(x foo: 1; bar)"),
    ("3 + 4; * 10", "(3 + 4; * 10)"),
    # statements, comments, assignment
    ("a := genesis clone. a foo", "(a := (genesis clone)). (a foo)"),
    ("a := b := 3", "(a := (b := 3))"),
    ("1. 2.", "1. 2"),
    ('"a comment" 3 "another" + 4', "(3 + 4)"),
    ("", ""),
    ('"only a comment"', ""),
    ("3.\n4", "3. 4"),
    # literals
    ("42", "42"),
    ("-3", "-3"),
    ("-3 abs", "(-3 abs)"),
    ("16r1F", "31"),
    ("2r1010", "10"),
    ("-16rff", "-255"),
    ("3.25", "3.25"),
    ("1.5e2", "150.0"),
    ("1e3", "1000"),
    ("2.5e-3", "0.0025"),
    ("'hello'", "'hello'"),
    ("'it''s'", "'it''s'"),
    ("''", "''"),
    ("#foo", "#foo"),
    ("#at:put:", "#at:put:"),
    ("#+", "#+"),
    ("#'hello world'", "#'hello world'"),
    ("nil", "nil"),
    ("true & false", "(true & false)"),
    ("#(1 2 'a' #(3) foo)", "#(1 2 'a' #(3) #foo)"),
    ("#(1 -2 at:put: + nil true (4 5) #bar)", "#(1 -2 #at:put: #+ nil true #(4 5) #bar)"),
    ("#()", "#()"),
    ("{1+1. 2}", "{(1 + 1). 2}"),
    ("{1. 2.}", "{1. 2}"),
    ("{}", "{}"),
    # object literals
    ("(| x = 3. y <- 4. parent* = traits |)", "(| x = 3. y <- 4. parent* = traits |)"),
    ("(| |)", "(| |)"),
    ("(||)", "(| |)"),
    ("(| x |)", "(| x |)"),
    ("(| x. y <- 2. |)", "(| x. y <- 2 |)"),
    ("(| p* <- genesis. n = 1 + 2 |)", "(| p* <- genesis. n = 1 + 2 |)"),
    ("(| a = b foo: 1 |) a", "((| a = b foo: 1 |) a)"),
    # methods, blocks, returns, locals
    ("(| n = (1 + 2) |)", "(| n = ( (1 + 2) ) |)"),
    ("(| n = (1) + 2 |)", "(| n = 1 + 2 |)"),
    ("(| n <- (1 + 2) |)", "(| n <- 1 + 2 |)"),
    ("(| d: x = ( x * 2 ). at: i Put: v = ( | t | ^ v ) |)",
     "(| d: x = ( (x * 2) ). at: i put: v = ( | t | ^ v ) |)"),
    ("(| m = ( | t | t ). o = (| t |) |)", "(| m = ( | t | t ). o = (| t |) |)"),
    ("[ :x :y | | t | t := x. ^ y ] value: 1 value: 2",
     "([ :x :y | | t | (t := x). ^ y ] value: 1 value: 2)"),
    ("[:x] numArgs", "([ :x |  ] numArgs)"),
    ("[] value", "([  ] value)"),
    ("| s t | s := 1", "| s t | (s := 1)"),
    ("foo: 3", "(self foo: 3)"),
    ("resend.foo: 3. resend.bar", "(resend.foo: 3). (resend.bar)"),
    ("resend . bar", "resend. bar"),
    ("lobby _AddSlots: (| x = 3 |)", "(lobby _AddSlots: (| x = 3 |))"),
    ("(| q = (| |) |)", "(| q = (| |) |)"),
    # names
    ("self", "self"),
    ("self foo", "(self foo)"),
    ("@1a printString", "(@0x1a printString)"),
    ("@0x1a", "@0x1a"),
    ("3 @ 4", "(3 @ 4)"),
]


@pytest.mark.parametrize(("source", "expected"), PARSES)
def test_parse_prints_back(source: str, expected: str) -> None:
    assert unparse(parse(source)) == expected


@pytest.mark.parametrize(("source", "expected"), PARSES)
def test_printed_form_parses_to_the_same_tree(source: str, expected: str) -> None:
    assert parse(expected) == parse(source)


def test_tree_of_a_keyword_cascade() -> None:
    program = parse("genesis setSlot: 'x' value: 3; printString")
    assert program == Program(
        (
            Cascade(
                Name("genesis"),
                (Message("setSlot:value:", (Literal("x"), Literal(3))), Message("printString")),
            ),
        )
    )


def test_tree_of_an_object_literal() -> None:
    (node,) = parse("(| x = 3. y <- 4. parent* = traits |)").statements
    assert node == ObjectLiteral(
        (
            SlotDecl("x", False, Literal(3)),
            SlotDecl("y", True, Literal(4)),
            SlotDecl("parent*", False, Name("traits")),
        )
    )


def test_tree_of_names_and_references() -> None:
    program = parse("a := self. @ff. #(x)")
    assert program.statements == (
        Assign("a", SelfRef()),
        OidRef(255),
        LiteralArray((Symbol("x"),)),
    )


def test_spans_cover_the_source_of_each_node() -> None:
    source = "x := genesis foo: 1 + 2"
    (assign,) = parse(source).statements
    assert isinstance(assign, Assign)
    send = assign.value
    assert isinstance(send, Send)
    assert source[slice(*send.span)] == "genesis foo: 1 + 2"
    assert source[slice(*send.arguments[0].span)] == "1 + 2"
    assert source[slice(*send.receiver.span)] == "genesis"


# (source, line, column, a fragment of the message)
ERRORS = [
    ("genesis foo: 'abc", 1, 14, "unterminated string"),
    ("'abc''", 1, 1, "unterminated string"),
    ('3 "no end', 1, 3, "unterminated comment"),
    ("(3 + 4", 1, 1, "'(' was never closed"),
    ("x foo: (3 + 4", 1, 8, "'(' was never closed"),
    ("(3 + 4]", 1, 7, "unmatched ']'"),
    ("3 + 4]", 1, 6, "unmatched ']'"),
    ("3 + 4)", 1, 6, "unmatched ')'"),
    ("{1. 2", 1, 1, "'{' was never closed"),
    ("#(1 2", 1, 1, "'#(' was never closed"),
    ("genesis setSlot: 1 value:", 1, 26, "an argument after 'value:'"),
    ("genesis setSlot: value: 3", 1, 18, "an argument after 'setSlot:'"),
    ("genesis at: . 3", 1, 13, "an argument after 'at:'"),
    ("(| x = |)", 1, 8, "a value for slot 'x'"),
    ("(| x = 3", 1, 1, "was never closed"),
    ("(| x = 3 'y' |)", 1, 10, "'.' or '|)'"),
    ("(| x = 3. x = 4 |)", 1, 11, "duplicate slot 'x'"),
    ("(| _x = 3 |)", 1, 4, "must not start with '_'"),
    ("(| p* |)", 1, 7, "a parent"),
    ("(| foo: = 3 |)", 1, 9, "an argument name after 'foo:'"),
    ("(| foo: x = 3 |)", 1, 13, "a method body"),
    ("(| + x = ( 3 ) |)", 1, 4, "binary method slots"),
    ("[:x | x", 1, 1, "'[' was never closed"),
    ("[: x | x]", 1, 2, "block argument name"),
    ("[:x :x | x]", 1, 6, "duplicate variable 'x'"),
    ("| s s | s", 1, 5, "duplicate variable 's'"),
    ("| s ", 1, 1, "never closed"),
    ("[:self | 3]", 1, 3, "cannot be a variable name"),
    ("[:x 3]", 1, 5, "'|' after the block's arguments"),
    ("^", 1, 2, "a value to return"),
    ("(| 3 |)", 1, 4, "a slot name"),
    ("3 +", 1, 4, "an argument after '+'"),
    ("3 + * 4", 1, 5, "an argument after '+'"),
    ("3 at: foo: 3", 1, 7, "an argument after 'at:'"),
    ("a b := 3", 1, 5, "':='"),
    ("self := 3", 1, 1, "cannot assign to 'self'"),
    ("x :=", 1, 5, "a value to assign"),
    ("3 ; foo", 1, 3, "cascade needs a message"),
    ("a foo;", 1, 7, "a message after ';'"),
    ("()", 1, 2, "empty parentheses"),
    ("#", 1, 1, "after '#'"),
    ("2r102", 1, 5, "not a digit in radix 2"),
    ("40r1", 1, 1, "radix 40"),
    ("$a", 1, 1, "unexpected character '$'"),
    ("@1g", 1, 1, "object reference"),
    ("3 4", 1, 3, "'.' or the end of the statement"),
    ("a\n  b: ]", 2, 6, "unmatched ']'"),
    ("x := 1.\ny := 'open", 2, 6, "unterminated string"),
]


@pytest.mark.parametrize(("source", "line", "column", "fragment"), ERRORS)
def test_syntax_errors_point_at_the_offending_column(
    source: str, line: int, column: int, fragment: str
) -> None:
    with pytest.raises(SelfSyntaxError) as info:
        parse(source)
    error = info.value
    assert (error.line, error.column) == (line, column), error.render()
    assert fragment in error.message
    assert error.source == source


def test_render_puts_a_caret_under_the_column() -> None:
    with pytest.raises(SelfSyntaxError) as info:
        parse("x := 1.\ngenesis foo: 'abc")
    assert info.value.render() == (
        "line 2, column 14: unterminated string\n  genesis foo: 'abc\n               ^"
    )


def test_render_at_end_of_input_points_past_the_last_character() -> None:
    with pytest.raises(SelfSyntaxError) as info:
        parse("3 +")
    assert info.value.render().splitlines()[-1] == "     ^"


def test_syntax_error_pickles_with_its_position() -> None:
    with pytest.raises(SelfSyntaxError) as info:
        parse("(3")
    copy = pickle.loads(pickle.dumps(info.value))
    assert (copy.message, copy.line, copy.column, copy.source) == ("'(' was never closed", 1, 1, "(3")


@pytest.mark.parametrize(
    ("opener", "closer"),
    [("(", ")"), ("{", "}"), ("#(", ")"), ("(| a = ", " |)")],
)
def test_nesting_past_the_bound_is_a_syntax_error_at_the_bracket(opener: str, closer: str) -> None:
    from batos_core.selfsyntax.parser import MAX_NESTING

    fits = opener * MAX_NESTING + "1" + closer * MAX_NESTING
    parse(fits)
    deep = opener * 3000 + "1" + closer * 3000
    with pytest.raises(SelfSyntaxError) as info:
        parse(deep)
    assert info.value.message == f"nested more than {MAX_NESTING} deep"
    assert (info.value.line, info.value.column) == (1, len(opener) * MAX_NESTING + 1)


def test_a_long_assignment_chain_is_bounded_too() -> None:
    from batos_core.selfsyntax.parser import MAX_NESTING

    parse("a := " * MAX_NESTING + "1")
    with pytest.raises(SelfSyntaxError, match="nested more than"):
        parse("a := " * 3000 + "1")
