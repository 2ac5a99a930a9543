mod api;
mod common;
mod durability;
mod expiry;
mod smtp;
