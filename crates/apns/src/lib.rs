//! pushway's APNs channel: HTTP/2 with token (JWT) authentication, Apple's payload and every reason mapped to pushway's outcomes.
