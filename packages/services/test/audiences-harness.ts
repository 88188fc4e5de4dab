// The isolated PostgreSQL database per test file now lives in the shared test harness.
export { isolatedTestBackend as isolatedBackend } from '@siyu/storage/testing';
