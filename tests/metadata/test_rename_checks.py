"""``renamed_from`` on an object: carried into the schema, refused when the old name is taken."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from metadata import Resolution, load_packs, resolve

PACK = "name: crm\nversion: 1.0.0\n"
ACCOUNT = """\
    name: account
    fields:
      - {name: title, type: text}
    """


def _resolve(
    make_pack: Callable[..., Path], objects: dict[str, str], *, root: Path | None = None
) -> Resolution:
    files = {"pack.yaml": PACK, **{f"objects/{n}.yaml": t for n, t in objects.items()}}
    packs, problems = load_packs([make_pack("crm", files, root=root)])
    assert not problems
    return resolve(packs)


def _codes(resolution: Resolution) -> list[tuple[str, str | None, int | None, str]]:
    return [(p.code, p.file, p.line, p.path) for p in resolution.errors]


def test_renamed_from_is_carried_from_the_declaring_pack(make_pack, tmp_path):
    customer = """\
        name: customer
        renamed_from: account
        fields:
          - {name: title, type: text}
        """
    schema = _resolve(make_pack, {"customer": customer}).unwrap()
    assert schema.objects["customer"].renamed_from == "account"
    plain = _resolve(make_pack, {"account": ACCOUNT}, root=tmp_path / "plain").unwrap()
    assert plain.objects["account"].renamed_from is None


def test_renamed_from_a_live_object_is_a_clash(make_pack):
    customer = """\
        name: customer
        label: {en: Customer, zh-CN: 客户}
        renamed_from: account
        fields:
          - {name: title, type: text}
        """
    resolution = _resolve(make_pack, {"account": ACCOUNT, "customer": customer})
    ((code, file, line, path),) = _codes(resolution)
    assert (code, line, path) == ("rename_clash", 3, "renamed_from")
    assert file is not None and file.endswith("objects/customer.yaml")
    assert "'account' is still an object" in resolution.errors[0].message


def test_two_objects_renamed_from_the_same_name_clash(make_pack):
    def renamed(name: str) -> str:
        return f"name: {name}\nrenamed_from: account\nfields:\n  - {{name: title, type: text}}\n"

    resolution = _resolve(make_pack, {"customer": renamed("customer"), "client": renamed("client")})
    assert [(c, path) for c, _f, _l, path in _codes(resolution)] == [
        ("rename_clash", "renamed_from")
    ]
    assert "is renamed from it too" in resolution.errors[0].message


def test_renamed_from_its_own_name_is_harmless(make_pack):
    account = ACCOUNT.replace("name: account\n", "name: account\n    renamed_from: account\n")
    assert not _resolve(make_pack, {"account": account}).errors
