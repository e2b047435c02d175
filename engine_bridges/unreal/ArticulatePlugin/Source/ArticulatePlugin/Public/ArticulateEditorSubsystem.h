// Editor subsystem wrapping articulate::Client (engine_bridges/unreal/cpp/include/articulate/client.h).
// UNTESTED in the Unreal Editor: a skeleton showing how a plugin module drives the tested C++ client.
#pragma once

#include "CoreMinimal.h"
#include "EditorSubsystem.h"
#include "ArticulateEditorSubsystem.generated.h"

DECLARE_DYNAMIC_MULTICAST_DELEGATE_TwoParams(FArticulateProgress, float, Fraction, const FString&, Message);
DECLARE_DYNAMIC_MULTICAST_DELEGATE_ThreeParams(FArticulateDone, int32, StatusCode, const FString&, Message,
                                               const FString&, GlbPath);

UCLASS()
class UArticulateEditorSubsystem : public UEditorSubsystem
{
    GENERATED_BODY()

public:
    /** Server address ("host:port") and bearer token. */
    UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Articulate")
    FString Target = TEXT("127.0.0.1:50051");

    UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Articulate")
    FString Token;

    UPROPERTY(EditAnywhere, BlueprintReadWrite, Category = "Articulate")
    float DeadlineSeconds = 600.f;

    UPROPERTY(BlueprintAssignable, Category = "Articulate")
    FArticulateProgress OnProgress;

    UPROPERTY(BlueprintAssignable, Category = "Articulate")
    FArticulateDone OnDone;

    /** Rig a static mesh on the server (its sections become parts); the server's GLB is written to OutDir. */
    UFUNCTION(BlueprintCallable, Category = "Articulate")
    void RigStaticMesh(UStaticMesh* Mesh, const FString& OutDir);

    /** Cancel the call in flight (the server stops the job's worker process at once). */
    UFUNCTION(BlueprintCallable, Category = "Articulate")
    void Cancel();

private:
    TSharedPtr<class FArticulateCall, ESPMode::ThreadSafe> Current;
};
