//! The STARTTLS layer: upgrades negotiated, refused or not offered, per protocol.

mod databases;
mod directory_chat;
mod mail;
mod scripted;
