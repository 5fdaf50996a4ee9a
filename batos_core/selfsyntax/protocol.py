"""The standard protocol of numbers, strings, lists, booleans, nil and blocks.

Written in Self wherever the body is expressible in Self (`SELF_METHODS`,
one object literal per traits object, compiled and installed as ordinary
Methods with ``language: self``); Python primitives (`PRIMITIVES`) only
where Self has no way to say it (a length, an index, a square root). Both
live in the image under ``traits number`` etc., where they can be read with
``??`` and redefined. Installing never replaces a method that exists.
"""

from __future__ import annotations

from batos_core.objects import Method, UvmObject, has_slot, set_slot
from batos_core.selfsyntax.type_traits import ensure_type_traits, traits_object

AUTHOR = "batos bootstrap"

_ANY = """
    isNil = ( false ).
    notNil = ( true ).
    ifNil: b = ( self ).
    ifNotNil: b = ( b numArgs = 0 ifTrue: [ b value ] ifFalse: [ b value: self ] ).
    ifNil: n IfNotNil: b = ( ifNotNil: b ).
    ifNotNil: b IfNil: n = ( ifNotNil: b )
"""

SELF_METHODS: dict[str, str] = {
    "traits": f"(| {_ANY} |)",
    "nil": """(|
    isNil = ( true ).
    notNil = ( false ).
    ifNil: b = ( b value ).
    ifNotNil: b = ( nil ).
    ifNil: b IfNotNil: n = ( b value ).
    ifNotNil: n IfNil: b = ( b value ).
    printString = ( 'nil' ).
    asString = ( 'nil' )
|)""",
    "boolean": """(|
    ifTrue: t = ( self ifTrue: [ t value ] ifFalse: [ nil ] ).
    ifFalse: f = ( self ifTrue: [ nil ] ifFalse: [ f value ] ).
    ifTrue: t IfFalse: f = ( self ifTrue: [ t value ] ifFalse: [ f value ] ).
    ifFalse: f IfTrue: t = ( self ifTrue: [ t value ] ifFalse: [ f value ] ).
    and: b = ( self ifTrue: [ b value ] ifFalse: [ false ] ).
    or: b = ( self ifTrue: [ true ] ifFalse: [ b value ] ).
    printString = ( self ifTrue: [ 'true' ] ifFalse: [ 'false' ] ).
    asString = ( printString )
|)""",
    "block": """(|
    whileTrue: b = ( [ self value ] whileTrue: [ b value ]. nil ).
    whileFalse: b = ( [ self value ] whileFalse: [ b value ]. nil ).
    whileTrue = ( [ self value ] whileTrue. nil ).
    whileFalse = ( [ self value ] whileFalse. nil )
|)""",
    "number": """(|
    to: stop Do: b = ( | i | i := self. [ i <= stop ] whileTrue: [ b value: i. i := i + 1 ]. self ).
    to: stop By: step Do: b = ( | i | i := self.
        step > 0
            ifTrue: [ [ i <= stop ] whileTrue: [ b value: i. i := i + step ] ]
            ifFalse: [ [ i >= stop ] whileTrue: [ b value: i. i := i + step ] ].
        self ).
    timesRepeat: b = ( | i | i := 1. [ i <= self ] whileTrue: [ b value. i := i + 1 ]. self ).
    to: stop = ( | r | r := {}. self to: stop do: [ :i | r add: i ]. r ).
    max: n = ( self > n ifTrue: [ self ] ifFalse: [ n ] ).
    min: n = ( self < n ifTrue: [ self ] ifFalse: [ n ] ).
    abs = ( self < 0 ifTrue: [ self negated ] ifFalse: [ self ] ).
    negated = ( 0 - self ).
    between: low And: high = ( (self >= low) and: [ self <= high ] ).
    even = ( (self \\\\ 2) = 0 ).
    odd = ( even not ).
    squared = ( self * self ).
    gcd: n = ( | a b t | a := self abs. b := n abs.
        [ b = 0 ] whileFalse: [ t := a \\\\ b. a := b. b := t ]. a ).
    isZero = ( self = 0 ).
    sign = ( self > 0 ifTrue: [ 1 ] ifFalse: [ self < 0 ifTrue: [ -1 ] ifFalse: [ 0 ] ] ).
    printString = ( asString )
|)""",
    "string": """(|
    isEmpty = ( size = 0 ).
    notEmpty = ( isEmpty not ).
    first = ( at: 1 ).
    last = ( at: size ).
    reversed = ( reverse ).
    asSymbol = ( self ).
    asString = ( self ).
    do: b = ( 1 to: size do: [ :i | b value: (at: i) ]. self )
|)""",
    "list": """(|
    isEmpty = ( size = 0 ).
    notEmpty = ( isEmpty not ).
    first = ( at: 1 ).
    last = ( at: size ).
    do: b = ( 1 to: size do: [ :i | b value: (at: i) ]. self ).
    collect: b = ( | r | r := {}. do: [ :x | r add: (b value: x) ]. r ).
    select: b = ( | r | r := {}. do: [ :x | (b value: x) ifTrue: [ r add: x ] ]. r ).
    reject: b = ( select: [ :x | (b value: x) not ] ).
    detect: b IfNone: n = ( do: [ :x | (b value: x) ifTrue: [ ^ x ] ]. n value ).
    detect: b = ( detect: b ifNone: [ nil ] ).
    inject: start Into: b = ( | acc | acc := start. do: [ :x | acc := b value: acc value: x ]. acc ).
    includes: y = ( do: [ :x | x = y ifTrue: [ ^ true ] ]. false ).
    with: other Collect: b = ( | r | r := {}.
        1 to: size do: [ :i | r add: (b value: (at: i) value: (other at: i)) ]. r ).
    isArray = ( true )
|)""",
}

PRIMITIVES: dict[str, dict[str, str]] = {
    "number": {
        "sqrt": "import math\ndef sqrt(self):\n    return math.sqrt(self)\n",
        "raisedTo_": "def raisedTo_(self, n):\n    return self ** n\n",
        "asString": "def asString(self):\n    return str(self)\n",
    },
    "string": {
        "size": "def size(self):\n    return len(self)\n",
        "at_": "def at_(self, i):\n    return self[i - 1]\n",
        "reverse": "def reverse(self):\n    return self[::-1]\n",
        "includesSubstring_": "def includesSubstring_(self, s):\n    return s in self\n",
        "asUppercase": "def asUppercase(self):\n    return self.upper()\n",
        "asLowercase": "def asLowercase(self):\n    return self.lower()\n",
        "asNumber": (
            "def asNumber(self):\n    try:\n        return int(self)\n    except ValueError:\n"
            "        pass\n    try:\n        return float(self)\n"
            "    except ValueError:\n        return None\n"
        ),
        "printString": "def printString(self):\n    return \"'\" + self.replace(\"'\", \"''\") + \"'\"\n",
    },
    "list": {
        "size": "def size(self):\n    return len(self)\n",
        "at_": "def at_(self, i):\n    return self[i - 1]\n",
        "at_put_": "def at_put_(self, i, value):\n    self[i - 1] = value\n    return value\n",
        "add_": "def add_(self, value):\n    self.append(value)\n    return value\n",
        "asArray": "def asArray(self):\n    return list(self)\n",
    },
}


def install_standard_protocol(lobby: UvmObject) -> list[str]:
    """Install the protocol's missing methods; returns ``kind selector`` of each one installed."""
    from batos_core.selfsyntax.ast import MethodDecl
    from batos_core.selfsyntax.compiler import compile_method_decl
    from batos_core.selfsyntax.install import install_self_method
    from batos_core.selfsyntax.parser import parse

    holders = dict(ensure_type_traits(lobby))
    holders["traits"] = traits_object(lobby)
    installed: list[str] = []
    for kind, primitives in PRIMITIVES.items():
        for selector, source in primitives.items():
            if not has_slot(holders[kind], selector):
                method = Method(selector, source, {"author": AUTHOR, "primitive": True})
                set_slot(holders[kind], selector, method)
                installed.append(f"{kind} {selector}")
    for kind, text in SELF_METHODS.items():
        literal = parse(text).statements[0]
        for decl in getattr(literal, "slots", ()):
            assert isinstance(decl, MethodDecl)
            compiled = compile_method_decl(decl)
            if has_slot(holders[kind], compiled.selector):
                continue
            install_self_method(
                holders[kind], compiled.selector, compiled.source, compiled.self_selector,
                compiled.self_source, author=AUTHOR,
            )
            installed.append(f"{kind} {compiled.selector}")
    return installed
