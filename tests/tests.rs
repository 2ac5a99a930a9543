mod api;
mod common;
mod corpus;
mod durability;
mod expiry;
mod smtp;
