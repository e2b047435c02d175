// UNTESTED in the Unreal Editor (see ArticulateEditorSubsystem.h).
#include "ArticulateEditorSubsystem.h"

#include "Async/Async.h"
#include "Engine/StaticMesh.h"
#include "HAL/FileManager.h"
#include "Misc/FileHelper.h"
#include "Misc/Paths.h"
#include "StaticMeshResources.h"

#include "articulate/client.h"

class FArticulateCall
{
public:
    std::shared_ptr<articulate::CancelToken> Token = std::make_shared<articulate::CancelToken>();
};

static articulate::MeshData MeshDataOf(UStaticMesh* Mesh)
{
    articulate::MeshData Out;
    Out.name = TCHAR_TO_UTF8(*Mesh->GetName());
    const FStaticMeshLODResources& LOD = Mesh->GetRenderData()->LODResources[0];
    const FPositionVertexBuffer& Positions = LOD.VertexBuffers.PositionVertexBuffer;
    const uint32 V = Positions.GetNumVertices();
    Out.vertices.reserve(V * 3);
    for (uint32 i = 0; i < V; ++i)
    {
        const FVector3f P = Positions.VertexPosition(i);
        Out.vertices.push_back(P.X);
        Out.vertices.push_back(P.Y);
        Out.vertices.push_back(P.Z);
    }
    Out.part_labels.assign(V, -1);
    FIndexArrayView Indices = LOD.IndexBuffer.GetArrayView();
    for (int32 s = 0; s < LOD.Sections.Num(); ++s)  // each section is one part
    {
        const FStaticMeshSection& Section = LOD.Sections[s];
        Out.part_names.push_back("section_" + std::to_string(s));
        for (uint32 t = 0; t < Section.NumTriangles; ++t)
        {
            for (int32 k = 0; k < 3; ++k)
            {
                const uint32 Index = Indices[Section.FirstIndex + 3 * t + k];
                Out.faces.push_back(Index);
                Out.part_labels[Index] = s;
            }
        }
    }
    return Out;
}

void UArticulateEditorSubsystem::RigStaticMesh(UStaticMesh* Mesh, const FString& OutDir)
{
    if (Mesh == nullptr || Current.IsValid())
    {
        return;
    }
    Current = MakeShared<FArticulateCall, ESPMode::ThreadSafe>();
    TSharedPtr<FArticulateCall, ESPMode::ThreadSafe> Call = Current;
    articulate::MeshData Data = MeshDataOf(Mesh);
    const std::string TargetS = TCHAR_TO_UTF8(*Target), TokenS = TCHAR_TO_UTF8(*Token);
    const double Deadline = DeadlineSeconds;
    TWeakObjectPtr<UArticulateEditorSubsystem> Self(this);
    Async(EAsyncExecution::Thread, [=]()
    {
        articulate::Client Client(TargetS, TokenS);
        articulate::RigOptions Options;
        Options.formats = {"glb"};
        articulate::CallOptions CallOpts;
        CallOpts.deadline_seconds = Deadline;
        CallOpts.cancel = Call->Token;
        CallOpts.on_progress = [Self](double Fraction, const std::string& Message)
        {
            const FString Msg = UTF8_TO_TCHAR(Message.c_str());
            AsyncTask(ENamedThreads::GameThread, [Self, Fraction, Msg]()
            {
                if (Self.IsValid()) Self->OnProgress.Broadcast(Fraction, Msg);
            });
        };
        articulate::RigResult Rig = Client.RigMesh(Data, Options, CallOpts);
        FString GlbPath;
        if (Rig.status.ok() && Rig.files.count("rig.glb"))
        {
            GlbPath = FPaths::Combine(OutDir, FString(UTF8_TO_TCHAR(Data.name.c_str())) + TEXT("_rig.glb"));
            const std::string& Bytes = Rig.files["rig.glb"];
            TArray<uint8> Buffer(reinterpret_cast<const uint8*>(Bytes.data()), Bytes.size());
            FFileHelper::SaveArrayToFile(Buffer, *GlbPath);
        }
        const int32 Code = Rig.status.code;
        const FString Message = UTF8_TO_TCHAR(Rig.status.message.c_str());
        AsyncTask(ENamedThreads::GameThread, [Self, Code, Message, GlbPath]()
        {
            if (!Self.IsValid()) return;
            Self->Current.Reset();
            Self->OnDone.Broadcast(Code, Message, GlbPath);  // import GlbPath with the Interchange glTF importer
        });
    });
}

void UArticulateEditorSubsystem::Cancel()
{
    if (Current.IsValid())
    {
        Current->Token->Cancel();
    }
}
