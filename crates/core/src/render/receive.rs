//! The receive rules (tim.md §7 items 5–7): the message's control flags, the recipient's
//! receive options and do-not-disturb window. Checked after the seed's reasons, in this order:
//!
//! 1. `online_only` — the message is for online recipients only;
//! 2. the conversation's own option: C2C `peer_not_received` / `peer_muted`, group
//!    `group_not_received` / `group_not_notified` / `group_not_mentioned`;
//! 3. the global option: `global_not_received` / `global_not_notified`;
//! 4. `do_not_disturb` — the render time lies in the recipient's window.
//!
//! Every applicable rule must let the push through: a conversation's `receive` does not undo a
//! stricter global option (TIM documents no precedence between them; the stricter wins
//! [inferred]). The first reason in the order above is the one reported.

use super::{RenderError, SuppressReason};
use crate::model::{Conversation, GroupReceiveOption, Message, ReceiveOption, Recipient};

/// The first receive rule that takes the push away, if any.
pub(super) fn suppression(
    message: &Message,
    recipient: &Recipient,
) -> Result<Option<SuppressReason>, RenderError> {
    if message.control.online_only {
        return Ok(Some(SuppressReason::OnlineOnly));
    }
    let rules = &recipient.receive;
    let conversation = match &message.conversation {
        Conversation::C2c { .. } => match rules.peers.get(&message.sender.user_id) {
            Some(ReceiveOption::NotReceive) => Some(SuppressReason::PeerNotReceived),
            // The mute TIM's REST `sendmsg` ignores unless `WithMuteNotifications` (§7.7).
            Some(ReceiveOption::ReceiveNotNotify) if !message.control.ignore_peer_mute => {
                Some(SuppressReason::PeerMuted)
            }
            _ => None,
        },
        Conversation::Group { id, .. } => match rules.groups.get(id) {
            Some(GroupReceiveOption::NotReceive) => Some(SuppressReason::GroupNotReceived),
            Some(GroupReceiveOption::ReceiveNotNotify) => Some(SuppressReason::GroupNotNotified),
            Some(GroupReceiveOption::NotifyOnlyWhenMentioned)
                if !message.mentions.mentions(&recipient.user_id) =>
            {
                Some(SuppressReason::GroupNotMentioned)
            }
            _ => None,
        },
    };
    if conversation.is_some() {
        return Ok(conversation);
    }
    match rules.global {
        Some(ReceiveOption::NotReceive) => return Ok(Some(SuppressReason::GlobalNotReceived)),
        Some(ReceiveOption::ReceiveNotNotify) => {
            return Ok(Some(SuppressReason::GlobalNotNotified));
        }
        Some(ReceiveOption::Receive) | None => {}
    }
    if let Some(dnd) = &rules.dnd {
        let now = recipient.now_ms.ok_or(RenderError::MissingTime)?;
        if dnd.contains(now) {
            return Ok(Some(SuppressReason::DoNotDisturb));
        }
    }
    Ok(None)
}
