from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JointType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOINT_TYPE_UNSPECIFIED: _ClassVar[JointType]
    JOINT_TYPE_FIXED: _ClassVar[JointType]
    JOINT_TYPE_REVOLUTE: _ClassVar[JointType]
    JOINT_TYPE_CONTINUOUS: _ClassVar[JointType]
    JOINT_TYPE_PRISMATIC: _ClassVar[JointType]
    JOINT_TYPE_SPHERICAL: _ClassVar[JointType]
JOINT_TYPE_UNSPECIFIED: JointType
JOINT_TYPE_FIXED: JointType
JOINT_TYPE_REVOLUTE: JointType
JOINT_TYPE_CONTINUOUS: JointType
JOINT_TYPE_PRISMATIC: JointType
JOINT_TYPE_SPHERICAL: JointType

class FloatList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, values: _Optional[_Iterable[float]] = ...) -> None: ...

class DoubleList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, values: _Optional[_Iterable[float]] = ...) -> None: ...

class IndexList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, values: _Optional[_Iterable[int]] = ...) -> None: ...

class LabelList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, values: _Optional[_Iterable[int]] = ...) -> None: ...

class Mesh(_message.Message):
    __slots__ = ("name", "vertices_f32le", "vertices_f64le", "vertices", "faces_u32le", "faces", "uvs_f32le")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERTICES_F32LE_FIELD_NUMBER: _ClassVar[int]
    VERTICES_F64LE_FIELD_NUMBER: _ClassVar[int]
    VERTICES_FIELD_NUMBER: _ClassVar[int]
    FACES_U32LE_FIELD_NUMBER: _ClassVar[int]
    FACES_FIELD_NUMBER: _ClassVar[int]
    UVS_F32LE_FIELD_NUMBER: _ClassVar[int]
    name: str
    vertices_f32le: bytes
    vertices_f64le: bytes
    vertices: FloatList
    faces_u32le: bytes
    faces: IndexList
    uvs_f32le: bytes
    def __init__(self, name: _Optional[str] = ..., vertices_f32le: _Optional[bytes] = ..., vertices_f64le: _Optional[bytes] = ..., vertices: _Optional[_Union[FloatList, _Mapping]] = ..., faces_u32le: _Optional[bytes] = ..., faces: _Optional[_Union[IndexList, _Mapping]] = ..., uvs_f32le: _Optional[bytes] = ...) -> None: ...

class PartLabels(_message.Message):
    __slots__ = ("labels_i32le", "values", "names")
    LABELS_I32LE_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    NAMES_FIELD_NUMBER: _ClassVar[int]
    labels_i32le: bytes
    values: LabelList
    names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, labels_i32le: _Optional[bytes] = ..., values: _Optional[_Union[LabelList, _Mapping]] = ..., names: _Optional[_Iterable[str]] = ...) -> None: ...

class Skeleton(_message.Message):
    __slots__ = ("names", "parents", "rest_local", "bind_world")
    NAMES_FIELD_NUMBER: _ClassVar[int]
    PARENTS_FIELD_NUMBER: _ClassVar[int]
    REST_LOCAL_FIELD_NUMBER: _ClassVar[int]
    BIND_WORLD_FIELD_NUMBER: _ClassVar[int]
    names: _containers.RepeatedScalarFieldContainer[str]
    parents: _containers.RepeatedScalarFieldContainer[int]
    rest_local: _containers.RepeatedScalarFieldContainer[float]
    bind_world: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, names: _Optional[_Iterable[str]] = ..., parents: _Optional[_Iterable[int]] = ..., rest_local: _Optional[_Iterable[float]] = ..., bind_world: _Optional[_Iterable[float]] = ...) -> None: ...

class SkinWeights(_message.Message):
    __slots__ = ("influences", "vertex_count", "joint_indices_u32le", "weights_f32le")
    INFLUENCES_FIELD_NUMBER: _ClassVar[int]
    VERTEX_COUNT_FIELD_NUMBER: _ClassVar[int]
    JOINT_INDICES_U32LE_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_F32LE_FIELD_NUMBER: _ClassVar[int]
    influences: int
    vertex_count: int
    joint_indices_u32le: bytes
    weights_f32le: bytes
    def __init__(self, influences: _Optional[int] = ..., vertex_count: _Optional[int] = ..., joint_indices_u32le: _Optional[bytes] = ..., weights_f32le: _Optional[bytes] = ...) -> None: ...

class Animation(_message.Message):
    __slots__ = ("name", "fps", "frame_count", "joint_count", "translations_f32le", "rotations_f32le", "scales_f32le")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    FRAME_COUNT_FIELD_NUMBER: _ClassVar[int]
    JOINT_COUNT_FIELD_NUMBER: _ClassVar[int]
    TRANSLATIONS_F32LE_FIELD_NUMBER: _ClassVar[int]
    ROTATIONS_F32LE_FIELD_NUMBER: _ClassVar[int]
    SCALES_F32LE_FIELD_NUMBER: _ClassVar[int]
    name: str
    fps: float
    frame_count: int
    joint_count: int
    translations_f32le: bytes
    rotations_f32le: bytes
    scales_f32le: bytes
    def __init__(self, name: _Optional[str] = ..., fps: _Optional[float] = ..., frame_count: _Optional[int] = ..., joint_count: _Optional[int] = ..., translations_f32le: _Optional[bytes] = ..., rotations_f32le: _Optional[bytes] = ..., scales_f32le: _Optional[bytes] = ...) -> None: ...

class Rig(_message.Message):
    __slots__ = ("skeleton", "skin", "parts", "animations", "joint_parts", "metadata", "mesh")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SKELETON_FIELD_NUMBER: _ClassVar[int]
    SKIN_FIELD_NUMBER: _ClassVar[int]
    PARTS_FIELD_NUMBER: _ClassVar[int]
    ANIMATIONS_FIELD_NUMBER: _ClassVar[int]
    JOINT_PARTS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    MESH_FIELD_NUMBER: _ClassVar[int]
    skeleton: Skeleton
    skin: SkinWeights
    parts: PartLabels
    animations: _containers.RepeatedCompositeFieldContainer[Animation]
    joint_parts: _containers.RepeatedScalarFieldContainer[int]
    metadata: _containers.ScalarMap[str, str]
    mesh: Mesh
    def __init__(self, skeleton: _Optional[_Union[Skeleton, _Mapping]] = ..., skin: _Optional[_Union[SkinWeights, _Mapping]] = ..., parts: _Optional[_Union[PartLabels, _Mapping]] = ..., animations: _Optional[_Iterable[_Union[Animation, _Mapping]]] = ..., joint_parts: _Optional[_Iterable[int]] = ..., metadata: _Optional[_Mapping[str, str]] = ..., mesh: _Optional[_Union[Mesh, _Mapping]] = ...) -> None: ...

class Joint(_message.Message):
    __slots__ = ("name", "type", "parent", "child", "origin", "axis", "lower", "upper", "confidence", "extra")
    class ExtraEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    CHILD_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    AXIS_FIELD_NUMBER: _ClassVar[int]
    LOWER_FIELD_NUMBER: _ClassVar[int]
    UPPER_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: JointType
    parent: str
    child: str
    origin: _containers.RepeatedScalarFieldContainer[float]
    axis: _containers.RepeatedScalarFieldContainer[float]
    lower: float
    upper: float
    confidence: float
    extra: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., type: _Optional[_Union[JointType, str]] = ..., parent: _Optional[str] = ..., child: _Optional[str] = ..., origin: _Optional[_Iterable[float]] = ..., axis: _Optional[_Iterable[float]] = ..., lower: _Optional[float] = ..., upper: _Optional[float] = ..., confidence: _Optional[float] = ..., extra: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Link(_message.Message):
    __slots__ = ("name", "mesh")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MESH_FIELD_NUMBER: _ClassVar[int]
    name: str
    mesh: Mesh
    def __init__(self, name: _Optional[str] = ..., mesh: _Optional[_Union[Mesh, _Mapping]] = ...) -> None: ...

class Articulation(_message.Message):
    __slots__ = ("name", "links", "joints", "meters_per_unit")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LINKS_FIELD_NUMBER: _ClassVar[int]
    JOINTS_FIELD_NUMBER: _ClassVar[int]
    METERS_PER_UNIT_FIELD_NUMBER: _ClassVar[int]
    name: str
    links: _containers.RepeatedCompositeFieldContainer[Link]
    joints: _containers.RepeatedCompositeFieldContainer[Joint]
    meters_per_unit: float
    def __init__(self, name: _Optional[str] = ..., links: _Optional[_Iterable[_Union[Link, _Mapping]]] = ..., joints: _Optional[_Iterable[_Union[Joint, _Mapping]]] = ..., meters_per_unit: _Optional[float] = ...) -> None: ...

class MotionSequence(_message.Message):
    __slots__ = ("name", "fps", "frame_count", "vertex_count", "frames_f32le", "frames_f64le", "faces_u32le")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FPS_FIELD_NUMBER: _ClassVar[int]
    FRAME_COUNT_FIELD_NUMBER: _ClassVar[int]
    VERTEX_COUNT_FIELD_NUMBER: _ClassVar[int]
    FRAMES_F32LE_FIELD_NUMBER: _ClassVar[int]
    FRAMES_F64LE_FIELD_NUMBER: _ClassVar[int]
    FACES_U32LE_FIELD_NUMBER: _ClassVar[int]
    name: str
    fps: float
    frame_count: int
    vertex_count: int
    frames_f32le: bytes
    frames_f64le: bytes
    faces_u32le: bytes
    def __init__(self, name: _Optional[str] = ..., fps: _Optional[float] = ..., frame_count: _Optional[int] = ..., vertex_count: _Optional[int] = ..., frames_f32le: _Optional[bytes] = ..., frames_f64le: _Optional[bytes] = ..., faces_u32le: _Optional[bytes] = ...) -> None: ...
