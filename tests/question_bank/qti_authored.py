"""QTI 2.1 items written for these tests, as an exam office receives them from other
authors: standard ``choiceInteraction`` items in an IMS content package, with foreign
choice identifiers, text outside the prompt (also after the options), pictures with alt
text, fixed options, an
interaction that may not be shuffled, and ``map_response`` / ``match_correct`` scoring
(as a template and inline). The subject, trade, levels, difficulty and knowledge point are
in the manifest's ``qb:item`` as docs/question-bank.md asks.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

QTI = 'xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1"'
TEMPLATES = "http://www.imsglobal.org/question/qti_v2p1/rptemplates"

#: a 1x1 PNG
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
SVG = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40">'
    b'<circle cx="20" cy="20" r="18" fill="none" stroke="red" stroke-width="3"/>'
    b'<line x1="6" y1="6" x2="34" y2="34" stroke="red" stroke-width="3"/></svg>\n'
)

#: multiple choice, the author's map: +1 for each right choice, -1 for "none of the
#: above" (fixed last), held within 0..3; text before the picture, the question in the
#: prompt; foreign identifiers
MAP_ITEM = f"""<?xml version="1.0" encoding="UTF-8"?>
<assessmentItem {QTI} identifier="ZD-MAP-01" title="职业道德基本要求" adaptive="false"
    timeDependent="false">
  <responseDeclaration identifier="RESPONSE" cardinality="multiple" baseType="identifier">
    <correctResponse>
      <value>ChoiceA</value>
      <value>ChoiceB</value>
      <value>ChoiceC</value>
    </correctResponse>
    <mapping lowerBound="0" upperBound="3" defaultValue="0">
      <mapEntry mapKey="ChoiceA" mappedValue="1"/>
      <mapEntry mapKey="ChoiceB" mappedValue="1"/>
      <mapEntry mapKey="ChoiceC" mappedValue="1"/>
      <mapEntry mapKey="ChoiceD" mappedValue="-1"/>
    </mapping>
  </responseDeclaration>
  <outcomeDeclaration identifier="SCORE" cardinality="single" baseType="float"/>
  <outcomeDeclaration identifier="MAXSCORE" cardinality="single" baseType="float">
    <defaultValue><value>3</value></defaultValue>
  </outcomeDeclaration>
  <itemBody>
    <p>某单位在窗口服务岗位张贴了下面的宣传画，
       开展职业道德教育。</p>
    <p><img src="../media/poster.png" alt="宣传画：爱岗敬业、诚实守信、办事公道"/></p>
    <choiceInteraction responseIdentifier="RESPONSE" shuffle="true" maxChoices="0">
      <prompt>下列属于职业道德基本要求的有（  ）。</prompt>
      <simpleChoice identifier="ChoiceA">爱岗敬业</simpleChoice>
      <simpleChoice identifier="ChoiceB">诚实守信</simpleChoice>
      <simpleChoice identifier="ChoiceC">办事公道</simpleChoice>
      <simpleChoice identifier="ChoiceD" fixed="true">以上都不对</simpleChoice>
    </choiceInteraction>
  </itemBody>
  <responseProcessing template="{TEMPLATES}/map_response"/>
</assessmentItem>
"""

#: multiple choice scored all-or-nothing by its author, written inline (not as the
#: template); no MAXSCORE, so the item is worth what match_correct gives: 1
MATCH_ITEM = f"""<?xml version="1.0" encoding="UTF-8"?>
<assessmentItem {QTI} identifier="ZD-ALL-02" title="遵纪守法" adaptive="false"
    timeDependent="false">
  <responseDeclaration identifier="RESPONSE" cardinality="multiple" baseType="identifier">
    <correctResponse><value>A</value><value>C</value></correctResponse>
  </responseDeclaration>
  <outcomeDeclaration identifier="SCORE" cardinality="single" baseType="float"/>
  <itemBody>
    <choiceInteraction responseIdentifier="RESPONSE" shuffle="true" maxChoices="4">
      <prompt>工作人员遵纪守法，应当做到（  ）。</prompt>
      <simpleChoice identifier="A">学法、知法、守法、用法</simpleChoice>
      <simpleChoice identifier="B">只执行领导的口头指示</simpleChoice>
      <simpleChoice identifier="C">遵守本单位的规章制度</simpleChoice>
      <simpleChoice identifier="D">以情代法</simpleChoice>
    </choiceInteraction>
  </itemBody>
  <responseProcessing>
    <responseCondition>
      <responseIf>
        <match><variable identifier="RESPONSE"/><correct identifier="RESPONSE"/></match>
        <setOutcomeValue identifier="SCORE"><baseValue baseType="float">1</baseValue></setOutcomeValue>
      </responseIf>
      <responseElse>
        <setOutcomeValue identifier="SCORE"><baseValue baseType="float">0</baseValue></setOutcomeValue>
      </responseElse>
    </responseCondition>
  </responseProcessing>
</assessmentItem>
"""

#: single choice whose options may not be shuffled (their order is part of the question);
#: the question itself is outside the prompt, with formatting and a superscript
ORDERED_ITEM = f"""<?xml version="1.0" encoding="UTF-8"?>
<assessmentItem {QTI} identifier="ZD-SEQ-03" title="办文顺序" adaptive="false"
    timeDependent="false">
  <responseDeclaration identifier="RESPONSE" cardinality="single" baseType="identifier">
    <correctResponse><value>B</value></correctResponse>
  </responseDeclaration>
  <outcomeDeclaration identifier="SCORE" cardinality="single" baseType="float"/>
  <outcomeDeclaration identifier="MAXSCORE" cardinality="single" baseType="float">
    <defaultValue><value>2</value></defaultValue>
  </outcomeDeclaration>
  <itemBody>
    <div>
      <p>档案室面积为 20 m<sup>2</sup>，收文后应<b>依次</b>办理。</p>
      <p>下列顺序中，<em>最后一项</em>与其他各项的关系是（  ）。<br/>（按选项原有顺序作答）</p>
    </div>
    <choiceInteraction responseIdentifier="RESPONSE" shuffle="false" maxChoices="1">
      <simpleChoice identifier="A">前一项的结果</simpleChoice>
      <simpleChoice identifier="B">前两项的总结</simpleChoice>
      <simpleChoice identifier="C">与前三项无关</simpleChoice>
    </choiceInteraction>
  </itemBody>
  <responseProcessing template="{TEMPLATES}/match_correct"/>
</assessmentItem>
"""

#: single choice with partial credit for the nearly right option; no MAXSCORE (the map's
#: best, 2, is the item's points); "none of the above" fixed last; a note after the options
PARTIAL_ITEM = f"""<?xml version="1.0" encoding="UTF-8"?>
<assessmentItem {QTI} identifier="ZD-PART-04" title="办事公道" adaptive="false"
    timeDependent="false">
  <responseDeclaration identifier="RESPONSE" cardinality="single" baseType="identifier">
    <correctResponse><value>opt1</value></correctResponse>
    <mapping defaultValue="0">
      <mapEntry mapKey="opt1" mappedValue="2"/>
      <mapEntry mapKey="opt2" mappedValue="1"/>
    </mapping>
  </responseDeclaration>
  <outcomeDeclaration identifier="SCORE" cardinality="single" baseType="float"/>
  <itemBody>
    <p>办事公道要求工作人员在处理事务时（  ）。</p>
    <choiceInteraction responseIdentifier="RESPONSE" shuffle="true" maxChoices="1">
      <simpleChoice identifier="opt1">坚持原则，一视同仁</simpleChoice>
      <simpleChoice identifier="opt2">照顾熟人，兼顾原则</simpleChoice>
      <simpleChoice identifier="opt3">看领导意见行事</simpleChoice>
      <simpleChoice identifier="opt4" fixed="true">以上都不对</simpleChoice>
    </choiceInteraction>
    <p>（选“照顾熟人，兼顾原则”得一半分。）</p>
  </itemBody>
  <responseProcessing template="{TEMPLATES}/map_response"/>
</assessmentItem>
"""

TF_ITEM = f"""<?xml version="1.0" encoding="UTF-8"?>
<assessmentItem {QTI} identifier="ZD-TF-05" title="诚实守信" adaptive="false"
    timeDependent="false">
  <responseDeclaration identifier="RESPONSE" cardinality="single" baseType="identifier">
    <correctResponse><value>T</value></correctResponse>
  </responseDeclaration>
  <outcomeDeclaration identifier="SCORE" cardinality="single" baseType="float"/>
  <outcomeDeclaration identifier="MAXSCORE" cardinality="single" baseType="float">
    <defaultValue><value>1</value></defaultValue>
  </outcomeDeclaration>
  <itemBody>
    <choiceInteraction responseIdentifier="RESPONSE" shuffle="false" maxChoices="1">
      <prompt>诚实守信是做人的基本准则，也是职业道德的基本规范。</prompt>
      <simpleChoice identifier="T">正确</simpleChoice>
      <simpleChoice identifier="F">错误</simpleChoice>
    </choiceInteraction>
  </itemBody>
  <responseProcessing template="{TEMPLATES}/match_correct"/>
</assessmentItem>
"""

#: the picture comes first, then the question (a body a sheet cannot hold)
PICTURE_FIRST_ITEM = f"""<?xml version="1.0" encoding="UTF-8"?>
<assessmentItem {QTI} identifier="ZD-PIC-06" title="安全标志" adaptive="false"
    timeDependent="false">
  <responseDeclaration identifier="RESPONSE" cardinality="single" baseType="identifier">
    <correctResponse><value>C</value></correctResponse>
  </responseDeclaration>
  <outcomeDeclaration identifier="SCORE" cardinality="single" baseType="float"/>
  <outcomeDeclaration identifier="MAXSCORE" cardinality="single" baseType="float">
    <defaultValue><value>1</value></defaultValue>
  </outcomeDeclaration>
  <itemBody>
    <p><img src="../media/sign%201.svg" alt="红色圆圈加斜杠的标志"/></p>
    <choiceInteraction responseIdentifier="RESPONSE" shuffle="true" maxChoices="1">
      <prompt>上图所示标志的含义是（  ）。</prompt>
      <simpleChoice identifier="A">注意安全</simpleChoice>
      <simpleChoice identifier="B">必须戴安全帽</simpleChoice>
      <simpleChoice identifier="C">禁止类标志</simpleChoice>
    </choiceInteraction>
  </itemBody>
  <responseProcessing template="{TEMPLATES}/match_correct"/>
</assessmentItem>
"""

ETHICS = {"subject": "职业道德", "levels": "四级、五级", "difficulty": "中"}

#: file name -> (item xml, qb:item attributes)
ITEMS: dict[str, tuple[str, dict[str, str]]] = {
    "items/map.xml": (MAP_ITEM, {**ETHICS, "knowledgePoint": "职业道德基本要求"}),
    "items/match.xml": (MATCH_ITEM, {**ETHICS, "knowledgePoint": "遵纪守法"}),
    "items/ordered.xml": (ORDERED_ITEM, {**ETHICS, "knowledgePoint": "办文"}),
    "items/partial.xml": (PARTIAL_ITEM, {**ETHICS, "knowledgePoint": "办事公道"}),
    "items/tf.xml": (TF_ITEM, {**ETHICS, "difficulty": "易", "knowledgePoint": "诚实守信"}),
    "items/picture.xml": (PICTURE_FIRST_ITEM, {**ETHICS, "knowledgePoint": "安全标志"}),
}
MEDIA = {"media/poster.png": PNG, "media/sign 1.svg": SVG}


def manifest(resources: Mapping[str, Mapping[str, str] | None]) -> str:
    """An imsmanifest.xml listing item files, each with its ``qb:item`` (None: none)."""
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<manifest xmlns="http://www.imsglobal.org/xsd/imscp_v1p1"'
        ' xmlns:qb="urn:x-exam-centre:qbank:1" identifier="MANIFEST-1">',
        "  <organizations/>",
        "  <resources>",
    ]
    for n, (href, meta) in enumerate(resources.items(), start=1):
        out.append(f'    <resource identifier="RES-{n}" type="imsqti_item_xmlv2p1" href="{href}">')
        if meta is not None:
            attrs = " ".join(f'{k}="{v}"' for k, v in meta.items())
            out.append(f"      <metadata><qb:item {attrs}/></metadata>")
        out.append(f'      <file href="{href}"/>')
        out.append("    </resource>")
    out += ["  </resources>", "</manifest>"]
    return "\n".join(out)


def package(
    items: Mapping[str, tuple[str, Mapping[str, str] | None]] = ITEMS,
    media: Mapping[str, bytes] = MEDIA,
) -> bytes:
    """A content package (zip bytes) of ``items`` (an empty xml: listed, file missing)
    and ``media``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("imsmanifest.xml", manifest({h: m for h, (_, m) in items.items()}))
        for href, (xml, _) in items.items():
            if xml:  # an empty one is listed in the manifest but missing from the package
                z.writestr(href, xml)
        for name, data in media.items():
            z.writestr(name, data)
    return buf.getvalue()


def write_package(path: Path, **kwargs: object) -> Path:
    path.write_bytes(package(**kwargs))  # type: ignore[arg-type]
    return path


#: a 100-point paper of 职业道德 四级 made of exactly the authored items
BLUEPRINT = {
    "id": "QTI-ZYDD-L4",
    "title": "四级 职业道德",
    "subject": "职业道德",
    "level": "四级",
    "sections": [
        {"type": "单选", "count": 3, "points": 20},
        {"type": "多选", "count": 2, "points": 15},
        {"type": "判断", "count": 1, "points": 10},
    ],
}


def authored_assembly(folder: Path, *, sitting_code: str = "T-QTI", variants: int = 1) -> Any:
    """The authored items imported and assembled into ``variants`` papers."""
    from question_bank.assembly import assemble
    from question_bank.blueprint import parse_blueprint
    from question_bank.formats import read_items

    items = read_items([write_package(folder / "authored.zip")])
    return assemble(items, parse_blueprint(BLUEPRINT), "s", variants, sitting_code=sitting_code)
