"""What the import files say: unit levels, person tags and their Chinese words,
ledger column headers, and the patterns codes and phones must match."""

from __future__ import annotations

import re
from collections.abc import Sequence

from lianxin.registry.v1 import resources_pb2 as res

LEVELS: dict[str, int] = {
    "district": res.UNIT_LEVEL_DISTRICT,
    "street": res.UNIT_LEVEL_STREET,
    "community": res.UNIT_LEVEL_COMMUNITY,
    "grid": res.UNIT_LEVEL_GRID,
}
DEFAULT_TYPE_NAMES = {
    res.UNIT_LEVEL_DISTRICT: "区",
    res.UNIT_LEVEL_STREET: "街道",
    res.UNIT_LEVEL_COMMUNITY: "社区",
    res.UNIT_LEVEL_GRID: "网格",
}

CODE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_-]{0,63}$")
MOBILE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE = re.compile(r"^0\d{9,11}$")
TAG_SPLIT = re.compile(r"[、,，;；/\s]+")

TAG_LABELS: dict[str, int] = {
    "独居老人": res.PERSON_TAG_ELDERLY_LIVING_ALONE,
    "空巢独居老人": res.PERSON_TAG_ELDERLY_LIVING_ALONE,
    "独居": res.PERSON_TAG_ELDERLY_LIVING_ALONE,
    "残疾人": res.PERSON_TAG_DISABLED,
    "残疾": res.PERSON_TAG_DISABLED,
    "失业人员": res.PERSON_TAG_UNEMPLOYED,
    "失业": res.PERSON_TAG_UNEMPLOYED,
    "退休人员": res.PERSON_TAG_RETIRED,
    "退休": res.PERSON_TAG_RETIRED,
    "低保户": res.PERSON_TAG_LOW_INCOME,
    "低保": res.PERSON_TAG_LOW_INCOME,
    "低收入": res.PERSON_TAG_LOW_INCOME,
    "低收入家庭": res.PERSON_TAG_LOW_INCOME,
    "求职人员": res.PERSON_TAG_JOB_SEEKER,
    "求职": res.PERSON_TAG_JOB_SEEKER,
    "求职者": res.PERSON_TAG_JOB_SEEKER,
    "农民工": res.PERSON_TAG_MIGRANT_WORKER,
    "进城务工人员": res.PERSON_TAG_MIGRANT_WORKER,
    "外出务工": res.PERSON_TAG_MIGRANT_WORKER,
}
# The word each tag is written with (the first one listed above).
TAG_NAMES: dict[int, str] = {}
for _label, _tag in TAG_LABELS.items():
    TAG_NAMES.setdefault(_tag, _label)

HOUSEHOLD_COLUMNS: dict[str, str] = {
    "楼栋编码": "building_code",
    "单元": "unit_number",
    "单元号": "unit_number",
    "室号": "room",
    "房号": "room",
    "门牌号": "room",
    "户主姓名": "head_name",
    "户主": "head_name",
}
PERSON_COLUMNS: dict[str, str] = {
    "姓名": "name",
    "公民身份号码": "id_number",
    "身份证号": "id_number",
    "身份证号码": "id_number",
    "性别": "gender",
    "出生日期": "birth_date",
    "联系电话": "phone",
    "手机号码": "phone",
    "手机号": "phone",
    "楼栋编码": "building_code",
    "单元": "unit_number",
    "单元号": "unit_number",
    "室号": "room",
    "房号": "room",
    "门牌号": "room",
    "与户主关系": "relation",
    "人员类别": "tags",
    "人员标签": "tags",
    "所属社区": "unit_code",
    "所属网格": "unit_code",
}
REQUIRED = {
    res.IMPORT_KIND_HOUSEHOLDS: ("building_code", "room"),
    res.IMPORT_KIND_PERSONS: ("name", "id_number"),
}
KIND_WORDS = {
    res.IMPORT_KIND_UNITS: "units",
    res.IMPORT_KIND_BUILDINGS: "buildings",
    res.IMPORT_KIND_HOUSEHOLDS: "households",
    res.IMPORT_KIND_PERSONS: "persons",
}


def tags_to_list(bits: int) -> list[int]:
    return [t for t in TAG_NAMES if bits & (1 << (t - 1))]


def tags_to_bits(tags: Sequence[int]) -> int:
    out = 0
    for t in tags:
        out |= 1 << (t - 1)
    return out
