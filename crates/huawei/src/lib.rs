//! pushway's Huawei Push Kit channel: OAuth2 or service-account auth, batched token sends, and every code mapped to pushway's outcomes.
