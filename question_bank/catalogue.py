"""The catalogue: subjects (科目), levels (等级) and trades (工种).

The province's exam office owns the real catalogue; this module holds the list the
system ships with. Trades are identified by a short ASCII code (used in item ids, sitting
codes and file names) and shown by their Chinese name.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Subject(str, enum.Enum):
    """The three subjects of levels five to two, 100 points each."""

    ETHICS = "职业道德"
    ABILITY = "职业能力"
    SKILLS = "岗位技能"

    @property
    def code(self) -> str:
        """Short ASCII code used in item ids and sitting codes."""
        return SUBJECT_CODES[self]

    @property
    def needs_trade(self) -> bool:
        """Only 岗位技能 items and papers belong to a trade."""
        return self is Subject.SKILLS


SUBJECT_CODES: dict[Subject, str] = {
    Subject.ETHICS: "ZYDD",
    Subject.ABILITY: "ZYNL",
    Subject.SKILLS: "GWJN",
}

#: Levels as numbers 5 (lowest) .. 1 (highest) with their Chinese names and the
#: national vocational qualification names they correspond to.
LEVEL_NAMES: dict[int, str] = {5: "五级", 4: "四级", 3: "三级", 2: "二级", 1: "一级"}
LEVEL_ALIASES: dict[int, str] = {5: "初级工", 4: "中级工", 3: "高级工", 2: "技师", 1: "高级技师"}

_LEVEL_LOOKUP: dict[str, int] = {}
for _n, _name in LEVEL_NAMES.items():
    _LEVEL_LOOKUP[_name] = _n
    _LEVEL_LOOKUP[_name.rstrip("级")] = _n
    _LEVEL_LOOKUP[LEVEL_ALIASES[_n]] = _n
    _LEVEL_LOOKUP[str(_n)] = _n
    _LEVEL_LOOKUP[f"L{_n}"] = _n


def parse_level(text: str | int) -> int:
    """``"五级"``, ``"五"``, ``"5"``, ``"L5"``, ``"初级工"`` or ``5`` -> 5.

    Raises ``ValueError`` with a Chinese-first message on anything else.
    """
    if isinstance(text, int) and not isinstance(text, bool):
        if text in LEVEL_NAMES:
            return text
    else:
        key = str(text).strip().upper().replace("Ｌ", "L")
        if key in _LEVEL_LOOKUP:
            return _LEVEL_LOOKUP[key]
        if key.endswith(".0") and key[:-2] in _LEVEL_LOOKUP:  # numbers read from xlsx
            return _LEVEL_LOOKUP[key[:-2]]
    raise ValueError(
        f"无法识别的等级“{text}”，请填写 五级/四级/三级/二级/一级 或 5..1 (unknown level)"
    )


def level_name(level: int) -> str:
    return LEVEL_NAMES[level]


def parse_subject(text: str) -> Subject:
    key = str(text).strip()
    for s in Subject:
        if key in (s.value, s.code, s.name.lower(), s.name):
            return s
    raise ValueError(
        f"无法识别的科目“{text}”，请填写 职业道德、职业能力 或 岗位技能 (unknown subject)"
    )


@dataclass(frozen=True)
class Trade:
    """One trade (工种) of the catalogue."""

    code: str  #: ASCII, upper case, used in ids (e.g. ``HLY``)
    name: str  #: the Chinese name (e.g. 护理员)
    category: str  #: the catalogue group it belongs to
    levels: tuple[int, ...] = (5, 4, 3, 2, 1)  #: levels examined for this trade


#: Trades of the 工勤技能岗位 catalogue the system ships with.
TRADES: tuple[Trade, ...] = (
    Trade("HLY", "护理员", "医疗卫生与社会服务"),
    Trade("BYY", "保育员", "医疗卫生与社会服务"),
    Trade("YLGZ", "医疗救护员", "医疗卫生与社会服务", (5, 4, 3, 2)),
    Trade("DG", "电工", "设备运行与维修"),
    Trade("GDG", "管道工", "设备运行与维修"),
    Trade("ZLG", "制冷工", "设备运行与维修"),
    Trade("GLCZ", "锅炉操作工", "设备运行与维修"),
    Trade("DTWX", "电梯安装维修工", "设备运行与维修"),
    Trade("HG", "焊工", "设备运行与维修"),
    Trade("ZSPTS", "中式烹调师", "餐饮服务"),
    Trade("ZSMDS", "中式面点师", "餐饮服务"),
    Trade("XSPTS", "西式烹调师", "餐饮服务"),
    Trade("QCJSY", "汽车驾驶员", "交通运输"),
    Trade("QCWX", "汽车维修工", "交通运输"),
    Trade("LHG", "绿化工", "农林与环境"),
    Trade("HHG", "花卉园艺工", "农林与环境"),
    Trade("BJY", "保洁员", "后勤服务"),
    Trade("BAY", "保安员", "后勤服务"),
    Trade("CKBG", "仓库保管工", "后勤服务"),
    Trade("DZY", "打字员", "办公服务"),
    Trade("JSJCZ", "计算机操作员", "办公服务"),
    Trade("DAGL", "档案管理员", "办公服务"),
    Trade("JSJXX", "计算机信息处理员", "办公服务"),
)

_BY_CODE = {t.code: t for t in TRADES}
_BY_NAME = {t.name: t for t in TRADES}


def find_trade(text: str) -> Trade | None:
    """Look a trade up by its code (``DG``) or its Chinese name (``电工``)."""
    key = str(text).strip()
    return _BY_CODE.get(key.upper()) or _BY_NAME.get(key)


def get_trade(text: str) -> Trade:
    """Like :func:`find_trade` but raises ``ValueError`` (Chinese first) when unknown."""
    trade = find_trade(text)
    if trade is None:
        raise ValueError(
            f"工种“{text}”不在工种目录中，请填写目录中的工种名称或代码，"
            f"例如 护理员 (HLY)、电工 (DG)、中式烹调师 (ZSPTS)；"
            f"运行 qbank trades 查看完整目录 (unknown trade)"
        )
    return trade
