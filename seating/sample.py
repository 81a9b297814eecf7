"""Made-up but realistic sample data: tests, the benchmark and the server's demo use it.

Names, employers and ID numbers are generated (ID numbers carry a valid GB 11643 check
digit from :mod:`stdnum.cn.ric`); nothing here is a real person.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from stdnum.cn import ric

from seating.model import CHINA_TZ, Candidate, Centre, Gender, Room, Sitting

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红玉兰建华文斌立新海燕晓东春梅玉珍德明子轩欣怡浩然梓涵宇航思远"
EMPLOYERS = [
    "河南省人民医院",
    "郑州市第一中学",
    "郑州大学第一附属医院",
    "河南省农业科学院",
    "郑州市市政工程管理处",
    "河南省图书馆",
    "金水区人民政府机关事务中心",
    "郑州市第七人民医院",
    "河南省气象局",
    "郑州市园林局",
    "河南省水利厅后勤服务中心",
    "郑州市公路管理局",
]
TRADES = ["电工", "汽车驾驶员", "计算机信息处理员", "园林绿化工", "护理员", "水生产处理工"]
REGIONS = ["410105", "410102", "410103", "410104", "410122", "410181"]

SUBJECTS = ("职业道德", "职业能力", "岗位技能")


def id_number(rng: random.Random, gender: Gender, birth: date) -> str:
    seq = rng.randrange(0, 50) * 2 + (1 if gender is Gender.MALE else 2)
    body = f"{rng.choice(REGIONS)}{birth:%Y%m%d}{seq:03d}"
    return body + ric.calc_check_digit(body + "0")  # it skips the last character


def candidates(n: int, seed: int = 1, centre: str | None = None) -> list[Candidate]:
    """``n`` candidates of levels 2-5 (a few of level 1) across trades and employers."""
    rng = random.Random(seed)
    out: list[Candidate] = []
    seen: set[str] = set()
    while len(out) < n:
        gender = rng.choice([Gender.MALE, Gender.FEMALE])
        birth = date(1966, 1, 1) + timedelta(days=rng.randrange(0, 365 * 36))
        idn = id_number(rng, gender, birth)
        if idn in seen:
            continue
        seen.add(idn)
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice([1, 2])))
        level = rng.choices([1, 2, 3, 4, 5], weights=[1, 4, 8, 10, 6])[0]
        out.append(
            Candidate(
                id_number=idn,
                name=name,
                gender=gender,
                employer=rng.choice(EMPLOYERS),
                trade=rng.choice(TRADES),
                level=level,
                birth_date=birth,
                centre=centre,
            )
        )
    return out


def centre(code: str = "0101", rooms: int = 70, rows: int = 6, cols: int = 6) -> Centre:
    return Centre(
        code=code,
        name="郑州市职业技能鉴定中心考点",
        address="郑州市金水区文化路 100 号",
        rooms=tuple(
            Room(
                code=f"{i:03d}",
                name=f"第{i:02d}考场",
                rows=rows,
                cols=cols,
                location=f"实训楼{(i - 1) // 10 + 1}层{i:02d}室",
            )
            for i in range(1, rooms + 1)
        ),
    )


def sittings(day: date = date(2026, 11, 28), variants: int = 4) -> list[Sitting]:
    """Three subjects for levels 2-5 (each 60 min) and one theory paper for level 1."""
    labels = tuple("ABCDEFGH"[:variants])

    def at(h: int, m: int = 0) -> datetime:
        return datetime(day.year, day.month, day.day, h, m, tzinfo=CHINA_TZ)

    return [
        Sitting("S1", SUBJECTS[0], at(9), at(10), labels, frozenset({2, 3, 4, 5})),
        Sitting("S2", SUBJECTS[1], at(10, 30), at(11, 30), labels, frozenset({2, 3, 4, 5})),
        Sitting("S3", SUBJECTS[2], at(14), at(15), labels, frozenset({2, 3, 4, 5})),
        Sitting("T1", "理论知识", at(9), at(11), labels, frozenset({1})),
    ]
