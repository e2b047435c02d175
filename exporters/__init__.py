"""Writers: USD (UsdSkel rigs, UsdPhysics articulations), glTF (skins, animations), URDF."""
