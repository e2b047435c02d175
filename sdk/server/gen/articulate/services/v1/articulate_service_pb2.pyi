from sdk.server.gen.articulate.rig.v1 import rig_pb2 as _rig_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PartSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PART_SOURCE_UNSPECIFIED: _ClassVar[PartSource]
    PART_SOURCE_INLINE: _ClassVar[PartSource]
    PART_SOURCE_ASSET: _ClassVar[PartSource]
    PART_SOURCE_SKIN: _ClassVar[PartSource]

class ExportFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXPORT_FORMAT_UNSPECIFIED: _ClassVar[ExportFormat]
    EXPORT_FORMAT_USDA: _ClassVar[ExportFormat]
    EXPORT_FORMAT_USDC: _ClassVar[ExportFormat]
    EXPORT_FORMAT_GLB: _ClassVar[ExportFormat]
    EXPORT_FORMAT_URDF: _ClassVar[ExportFormat]
    EXPORT_FORMAT_USDZ: _ClassVar[ExportFormat]

class JobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATE_UNSPECIFIED: _ClassVar[JobState]
    JOB_STATE_QUEUED: _ClassVar[JobState]
    JOB_STATE_RUNNING: _ClassVar[JobState]
    JOB_STATE_SUCCEEDED: _ClassVar[JobState]
    JOB_STATE_FAILED: _ClassVar[JobState]
    JOB_STATE_CANCELLED: _ClassVar[JobState]
PART_SOURCE_UNSPECIFIED: PartSource
PART_SOURCE_INLINE: PartSource
PART_SOURCE_ASSET: PartSource
PART_SOURCE_SKIN: PartSource
EXPORT_FORMAT_UNSPECIFIED: ExportFormat
EXPORT_FORMAT_USDA: ExportFormat
EXPORT_FORMAT_USDC: ExportFormat
EXPORT_FORMAT_GLB: ExportFormat
EXPORT_FORMAT_URDF: ExportFormat
EXPORT_FORMAT_USDZ: ExportFormat
JOB_STATE_UNSPECIFIED: JobState
JOB_STATE_QUEUED: JobState
JOB_STATE_RUNNING: JobState
JOB_STATE_SUCCEEDED: JobState
JOB_STATE_FAILED: JobState
JOB_STATE_CANCELLED: JobState

class MeshInput(_message.Message):
    __slots__ = ("mesh", "upload_id")
    MESH_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    mesh: _rig_pb2.Mesh
    upload_id: str
    def __init__(self, mesh: _Optional[_Union[_rig_pb2.Mesh, _Mapping]] = ..., upload_id: _Optional[str] = ...) -> None: ...

class ExportOptions(_message.Message):
    __slots__ = ("formats", "up_axis", "meters_per_unit", "skip_animations")
    FORMATS_FIELD_NUMBER: _ClassVar[int]
    UP_AXIS_FIELD_NUMBER: _ClassVar[int]
    METERS_PER_UNIT_FIELD_NUMBER: _ClassVar[int]
    SKIP_ANIMATIONS_FIELD_NUMBER: _ClassVar[int]
    formats: _containers.RepeatedScalarFieldContainer[ExportFormat]
    up_axis: str
    meters_per_unit: float
    skip_animations: bool
    def __init__(self, formats: _Optional[_Iterable[_Union[ExportFormat, str]]] = ..., up_axis: _Optional[str] = ..., meters_per_unit: _Optional[float] = ..., skip_animations: _Optional[bool] = ...) -> None: ...

class RigRequest(_message.Message):
    __slots__ = ("input", "parts", "part_source", "method", "max_influences", "export", "include_mesh", "max_bones", "root", "quantize_bits", "template", "naming")
    INPUT_FIELD_NUMBER: _ClassVar[int]
    PARTS_FIELD_NUMBER: _ClassVar[int]
    PART_SOURCE_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    MAX_INFLUENCES_FIELD_NUMBER: _ClassVar[int]
    EXPORT_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_MESH_FIELD_NUMBER: _ClassVar[int]
    MAX_BONES_FIELD_NUMBER: _ClassVar[int]
    ROOT_FIELD_NUMBER: _ClassVar[int]
    QUANTIZE_BITS_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    NAMING_FIELD_NUMBER: _ClassVar[int]
    input: MeshInput
    parts: _rig_pb2.PartLabels
    part_source: PartSource
    method: str
    max_influences: int
    export: ExportOptions
    include_mesh: bool
    max_bones: int
    root: str
    quantize_bits: int
    template: str
    naming: str
    def __init__(self, input: _Optional[_Union[MeshInput, _Mapping]] = ..., parts: _Optional[_Union[_rig_pb2.PartLabels, _Mapping]] = ..., part_source: _Optional[_Union[PartSource, str]] = ..., method: _Optional[str] = ..., max_influences: _Optional[int] = ..., export: _Optional[_Union[ExportOptions, _Mapping]] = ..., include_mesh: _Optional[bool] = ..., max_bones: _Optional[int] = ..., root: _Optional[str] = ..., quantize_bits: _Optional[int] = ..., template: _Optional[str] = ..., naming: _Optional[str] = ...) -> None: ...

class MotionInput(_message.Message):
    __slots__ = ("sequence", "upload_id")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    sequence: _rig_pb2.MotionSequence
    upload_id: str
    def __init__(self, sequence: _Optional[_Union[_rig_pb2.MotionSequence, _Mapping]] = ..., upload_id: _Optional[str] = ...) -> None: ...

class RigFromMotionRequest(_message.Message):
    __slots__ = ("motion", "clip", "max_parts", "max_influences", "export", "include_mesh")
    MOTION_FIELD_NUMBER: _ClassVar[int]
    CLIP_FIELD_NUMBER: _ClassVar[int]
    MAX_PARTS_FIELD_NUMBER: _ClassVar[int]
    MAX_INFLUENCES_FIELD_NUMBER: _ClassVar[int]
    EXPORT_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_MESH_FIELD_NUMBER: _ClassVar[int]
    motion: MotionInput
    clip: str
    max_parts: int
    max_influences: int
    export: ExportOptions
    include_mesh: bool
    def __init__(self, motion: _Optional[_Union[MotionInput, _Mapping]] = ..., clip: _Optional[str] = ..., max_parts: _Optional[int] = ..., max_influences: _Optional[int] = ..., export: _Optional[_Union[ExportOptions, _Mapping]] = ..., include_mesh: _Optional[bool] = ...) -> None: ...

class PartPrompt(_message.Message):
    __slots__ = ("part", "prompt")
    PART_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    part: str
    prompt: str
    def __init__(self, part: _Optional[str] = ..., prompt: _Optional[str] = ...) -> None: ...

class ArticulatePartsRequest(_message.Message):
    __slots__ = ("input", "parts", "part_source", "prompts", "all_parts", "export", "include_meshes")
    INPUT_FIELD_NUMBER: _ClassVar[int]
    PARTS_FIELD_NUMBER: _ClassVar[int]
    PART_SOURCE_FIELD_NUMBER: _ClassVar[int]
    PROMPTS_FIELD_NUMBER: _ClassVar[int]
    ALL_PARTS_FIELD_NUMBER: _ClassVar[int]
    EXPORT_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_MESHES_FIELD_NUMBER: _ClassVar[int]
    input: MeshInput
    parts: _rig_pb2.PartLabels
    part_source: PartSource
    prompts: _containers.RepeatedCompositeFieldContainer[PartPrompt]
    all_parts: bool
    export: ExportOptions
    include_meshes: bool
    def __init__(self, input: _Optional[_Union[MeshInput, _Mapping]] = ..., parts: _Optional[_Union[_rig_pb2.PartLabels, _Mapping]] = ..., part_source: _Optional[_Union[PartSource, str]] = ..., prompts: _Optional[_Iterable[_Union[PartPrompt, _Mapping]]] = ..., all_parts: _Optional[bool] = ..., export: _Optional[_Union[ExportOptions, _Mapping]] = ..., include_meshes: _Optional[bool] = ...) -> None: ...

class GenericTask(_message.Message):
    __slots__ = ("task", "params", "upload_ids")
    TASK_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_IDS_FIELD_NUMBER: _ClassVar[int]
    task: str
    params: _struct_pb2.Struct
    upload_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, task: _Optional[str] = ..., params: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., upload_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class UploadHeader(_message.Message):
    __slots__ = ("filename", "content_type", "total_size")
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    filename: str
    content_type: str
    total_size: int
    def __init__(self, filename: _Optional[str] = ..., content_type: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class UploadEnd(_message.Message):
    __slots__ = ("sha256",)
    SHA256_FIELD_NUMBER: _ClassVar[int]
    sha256: str
    def __init__(self, sha256: _Optional[str] = ...) -> None: ...

class UploadChunk(_message.Message):
    __slots__ = ("header", "data", "end")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    header: UploadHeader
    data: bytes
    end: UploadEnd
    def __init__(self, header: _Optional[_Union[UploadHeader, _Mapping]] = ..., data: _Optional[bytes] = ..., end: _Optional[_Union[UploadEnd, _Mapping]] = ...) -> None: ...

class UploadResponse(_message.Message):
    __slots__ = ("upload_id", "size", "sha256", "expires_in_s")
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_S_FIELD_NUMBER: _ClassVar[int]
    upload_id: str
    size: int
    sha256: str
    expires_in_s: float
    def __init__(self, upload_id: _Optional[str] = ..., size: _Optional[int] = ..., sha256: _Optional[str] = ..., expires_in_s: _Optional[float] = ...) -> None: ...

class DeleteUploadRequest(_message.Message):
    __slots__ = ("upload_id",)
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    upload_id: str
    def __init__(self, upload_id: _Optional[str] = ...) -> None: ...

class DeleteUploadResponse(_message.Message):
    __slots__ = ("upload_id", "freed_bytes")
    UPLOAD_ID_FIELD_NUMBER: _ClassVar[int]
    FREED_BYTES_FIELD_NUMBER: _ClassVar[int]
    upload_id: str
    freed_bytes: int
    def __init__(self, upload_id: _Optional[str] = ..., freed_bytes: _Optional[int] = ...) -> None: ...

class Progress(_message.Message):
    __slots__ = ("fraction", "stage", "message")
    FRACTION_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    fraction: float
    stage: str
    message: str
    def __init__(self, fraction: _Optional[float] = ..., stage: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class RigResult(_message.Message):
    __slots__ = ("rig", "report")
    class ReportEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RIG_FIELD_NUMBER: _ClassVar[int]
    REPORT_FIELD_NUMBER: _ClassVar[int]
    rig: _rig_pb2.Rig
    report: _containers.ScalarMap[str, str]
    def __init__(self, rig: _Optional[_Union[_rig_pb2.Rig, _Mapping]] = ..., report: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ArticulationResult(_message.Message):
    __slots__ = ("articulation", "report")
    class ReportEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ARTICULATION_FIELD_NUMBER: _ClassVar[int]
    REPORT_FIELD_NUMBER: _ClassVar[int]
    articulation: _rig_pb2.Articulation
    report: _containers.ScalarMap[str, str]
    def __init__(self, articulation: _Optional[_Union[_rig_pb2.Articulation, _Mapping]] = ..., report: _Optional[_Mapping[str, str]] = ...) -> None: ...

class BlobHeader(_message.Message):
    __slots__ = ("name", "format", "content_type", "total_size", "sha256")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    name: str
    format: ExportFormat
    content_type: str
    total_size: int
    sha256: str
    def __init__(self, name: _Optional[str] = ..., format: _Optional[_Union[ExportFormat, str]] = ..., content_type: _Optional[str] = ..., total_size: _Optional[int] = ..., sha256: _Optional[str] = ...) -> None: ...

class BlobEnd(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ResultHeader(_message.Message):
    __slots__ = ("message_type", "total_size", "sha256")
    MESSAGE_TYPE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    message_type: str
    total_size: int
    sha256: str
    def __init__(self, message_type: _Optional[str] = ..., total_size: _Optional[int] = ..., sha256: _Optional[str] = ...) -> None: ...

class FinalStatus(_message.Message):
    __slots__ = ("code", "message", "field", "elapsed_s")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    ELAPSED_S_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    field: str
    elapsed_s: float
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ..., field: _Optional[str] = ..., elapsed_s: _Optional[float] = ...) -> None: ...

class JobEvent(_message.Message):
    __slots__ = ("job_id", "sequence", "progress", "rig", "articulation", "blob_header", "blob_chunk", "blob_end", "final", "warning", "result_header", "result_chunk")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RIG_FIELD_NUMBER: _ClassVar[int]
    ARTICULATION_FIELD_NUMBER: _ClassVar[int]
    BLOB_HEADER_FIELD_NUMBER: _ClassVar[int]
    BLOB_CHUNK_FIELD_NUMBER: _ClassVar[int]
    BLOB_END_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    WARNING_FIELD_NUMBER: _ClassVar[int]
    RESULT_HEADER_FIELD_NUMBER: _ClassVar[int]
    RESULT_CHUNK_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    sequence: int
    progress: Progress
    rig: RigResult
    articulation: ArticulationResult
    blob_header: BlobHeader
    blob_chunk: bytes
    blob_end: BlobEnd
    final: FinalStatus
    warning: str
    result_header: ResultHeader
    result_chunk: bytes
    def __init__(self, job_id: _Optional[str] = ..., sequence: _Optional[int] = ..., progress: _Optional[_Union[Progress, _Mapping]] = ..., rig: _Optional[_Union[RigResult, _Mapping]] = ..., articulation: _Optional[_Union[ArticulationResult, _Mapping]] = ..., blob_header: _Optional[_Union[BlobHeader, _Mapping]] = ..., blob_chunk: _Optional[bytes] = ..., blob_end: _Optional[_Union[BlobEnd, _Mapping]] = ..., final: _Optional[_Union[FinalStatus, _Mapping]] = ..., warning: _Optional[str] = ..., result_header: _Optional[_Union[ResultHeader, _Mapping]] = ..., result_chunk: _Optional[bytes] = ...) -> None: ...

class SubmitJobRequest(_message.Message):
    __slots__ = ("rig", "rig_from_motion", "articulate_parts", "generic", "label")
    RIG_FIELD_NUMBER: _ClassVar[int]
    RIG_FROM_MOTION_FIELD_NUMBER: _ClassVar[int]
    ARTICULATE_PARTS_FIELD_NUMBER: _ClassVar[int]
    GENERIC_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    rig: RigRequest
    rig_from_motion: RigFromMotionRequest
    articulate_parts: ArticulatePartsRequest
    generic: GenericTask
    label: str
    def __init__(self, rig: _Optional[_Union[RigRequest, _Mapping]] = ..., rig_from_motion: _Optional[_Union[RigFromMotionRequest, _Mapping]] = ..., articulate_parts: _Optional[_Union[ArticulatePartsRequest, _Mapping]] = ..., generic: _Optional[_Union[GenericTask, _Mapping]] = ..., label: _Optional[str] = ...) -> None: ...

class JobHandle(_message.Message):
    __slots__ = ("job_id", "state", "progress", "final", "queue_position")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    QUEUE_POSITION_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    state: JobState
    progress: Progress
    final: FinalStatus
    queue_position: int
    def __init__(self, job_id: _Optional[str] = ..., state: _Optional[_Union[JobState, str]] = ..., progress: _Optional[_Union[Progress, _Mapping]] = ..., final: _Optional[_Union[FinalStatus, _Mapping]] = ..., queue_position: _Optional[int] = ...) -> None: ...

class WatchJobRequest(_message.Message):
    __slots__ = ("job_id", "from_start")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_START_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    from_start: bool
    def __init__(self, job_id: _Optional[str] = ..., from_start: _Optional[bool] = ...) -> None: ...

class CancelJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class GetJobRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class GetServerInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ServerInfo(_message.Message):
    __slots__ = ("sdk_version", "api_version", "max_receive_message_bytes", "max_send_message_bytes", "chunk_bytes", "max_upload_bytes", "workers", "queue_capacity", "tasks", "methods", "auth_required", "tls", "upload_store_bytes", "upload_ttl_s", "idle_timeout_s", "max_calls", "max_calls_per_token", "isolation")
    SDK_VERSION_FIELD_NUMBER: _ClassVar[int]
    API_VERSION_FIELD_NUMBER: _ClassVar[int]
    MAX_RECEIVE_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_SEND_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    CHUNK_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_UPLOAD_BYTES_FIELD_NUMBER: _ClassVar[int]
    WORKERS_FIELD_NUMBER: _ClassVar[int]
    QUEUE_CAPACITY_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    METHODS_FIELD_NUMBER: _ClassVar[int]
    AUTH_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    TLS_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_STORE_BYTES_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_TTL_S_FIELD_NUMBER: _ClassVar[int]
    IDLE_TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    MAX_CALLS_FIELD_NUMBER: _ClassVar[int]
    MAX_CALLS_PER_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ISOLATION_FIELD_NUMBER: _ClassVar[int]
    sdk_version: str
    api_version: str
    max_receive_message_bytes: int
    max_send_message_bytes: int
    chunk_bytes: int
    max_upload_bytes: int
    workers: int
    queue_capacity: int
    tasks: _containers.RepeatedScalarFieldContainer[str]
    methods: _containers.RepeatedScalarFieldContainer[str]
    auth_required: bool
    tls: bool
    upload_store_bytes: int
    upload_ttl_s: float
    idle_timeout_s: float
    max_calls: int
    max_calls_per_token: int
    isolation: str
    def __init__(self, sdk_version: _Optional[str] = ..., api_version: _Optional[str] = ..., max_receive_message_bytes: _Optional[int] = ..., max_send_message_bytes: _Optional[int] = ..., chunk_bytes: _Optional[int] = ..., max_upload_bytes: _Optional[int] = ..., workers: _Optional[int] = ..., queue_capacity: _Optional[int] = ..., tasks: _Optional[_Iterable[str]] = ..., methods: _Optional[_Iterable[str]] = ..., auth_required: _Optional[bool] = ..., tls: _Optional[bool] = ..., upload_store_bytes: _Optional[int] = ..., upload_ttl_s: _Optional[float] = ..., idle_timeout_s: _Optional[float] = ..., max_calls: _Optional[int] = ..., max_calls_per_token: _Optional[int] = ..., isolation: _Optional[str] = ...) -> None: ...
