// A chat screen of a React Native app on helpdesk's client library (docs/protocol.md, "Apps
// and mini-programs"). Copy helpdesk/static/helpdesk/client.js and client-core.js next to
// this file (./helpdesk/), and install @react-native-async-storage/async-storage. The library
// keeps the conversation in AsyncStorage, closes its socket when the app goes to the
// background and, back in front, catches up by cursor and sends what was written meanwhile.
//
// Push: pass the phone's push token as `pushToken` and replies the visitor has not seen reach
// the phone as a notification. With Firebase (@react-native-firebase/messaging), Android and
// iOS alike: `{ platform: "fcm", token: await messaging().getToken() }`; with APNs directly
// (iOS): `{ platform: "apns", token: <the device token in hex> }`. The site's FCM or APNs
// credentials are set in the helpdesk's back office (docs/protocol.md, "Push to apps").
import AsyncStorage from "@react-native-async-storage/async-storage";
import React, { useEffect, useRef, useState } from "react";
import { AppState, FlatList, KeyboardAvoidingView, Platform, Pressable, StyleSheet, Text, TextInput, View } from "react-native";
import HelpdeskClient from "./helpdesk/client";

const HELPDESK_URL = "https://helpdesk.example.com";
const SITE_KEY = "wk_yourSiteKey";

export default function ChatScreen({ user, pushToken }) {
  const clientRef = useRef(null);
  const [items, setItems] = useState([]);
  const [draft, setDraft] = useState("");
  const [state, setState] = useState("connecting");
  const [agentsOnline, setAgentsOnline] = useState(false);
  const [maxBody, setMaxBody] = useState(4000);

  useEffect(() => {
    const client = HelpdeskClient.create({
      url: HELPDESK_URL,
      siteKey: SITE_KEY,
      adapter: HelpdeskClient.adapters.reactNative({ AsyncStorage, AppState }),
      // A signed-in user of your app: user_hash is computed by your server (docs/protocol.md).
      context: user ? { user_id: user.id, user_hash: user.helpdeskHash, name: user.name } : {},
    });
    clientRef.current = client;
    const failed = []; // refused for good: shown with the reason, never sent again

    const render = () => {
      const stored = client.messages().map((m) => ({
        key: m.id,
        mine: m.sender === "visitor",
        system: m.sender === "system",
        name: m.sender === "agent" ? m.agent_name : null,
        body: m.body,
        state: m.sender !== "visitor" ? "" : m.seq <= client.readSeq(m.conversation_id) ? "Seen" : "Sent",
      }));
      const waiting = client.pending().map((e) => ({ key: e.client_id, mine: true, body: e.body, state: "Sending…" }));
      setItems(stored.concat(waiting, failed));
    };
    const offs = [
      client.on("message", render),
      client.on("pending", render),
      client.on("seen", render),
      client.on("reset", render),
      client.on("failed", (failure) => {
        failed.push({ key: failure.client_id, mine: true, body: failure.entry.body, state: failure.detail });
        render();
      }),
      client.on("status", (status) => setState(status.state)),
      client.on("presence", (presence) => setAgentsOnline(presence.agentsOnline)),
      client.on("welcome", () => {
        setAgentsOnline(client.agentsOnline);
        setMaxBody(client.maxBody);
      }),
    ];
    client.start().then(() => client.setVisible(true)); // this screen shows the conversation
    // Registered once the server knows the visitor; again by itself for the next visitor here.
    if (pushToken) client.registerDevice(pushToken).catch((error) => console.warn("push", error.code));
    return () => {
      offs.forEach((off) => off());
      client.close();
    };
  }, [user, pushToken]);

  const send = () => {
    const body = draft.trim();
    if (!body || !clientRef.current) return;
    clientRef.current.send(body); // into the outbox at once ("Sending…"), out when connected
    setDraft("");
  };

  return (
    <KeyboardAvoidingView style={styles.screen} behavior={Platform.OS === "ios" ? "padding" : undefined}>
      <Text style={styles.presence}>
        {agentsOnline ? "We're online. We typically reply in a few minutes." : "We're offline right now. Leave a message and we'll reply as soon as we're back."}
      </Text>
      {state === "offline" ? <Text style={styles.reconnecting}>Reconnecting…</Text> : null}
      <FlatList
        data={items.slice().reverse()}
        inverted
        keyExtractor={(item) => item.key}
        onEndReached={() => clientRef.current && clientRef.current.loadOlder().catch(() => {})}
        renderItem={({ item }) => (
          <View style={[styles.msg, item.mine ? styles.mine : item.system ? styles.system : styles.theirs]}>
            {item.name ? <Text style={styles.name}>{item.name}</Text> : null}
            <Text style={[styles.bubble, item.mine ? styles.mineBubble : item.system ? styles.systemBubble : styles.theirsBubble]}>{item.body}</Text>
            {item.state ? <Text style={styles.state}>{item.state}</Text> : null}
          </View>
        )}
      />
      <View style={styles.composer}>
        <TextInput
          style={styles.input}
          value={draft}
          onChangeText={setDraft}
          placeholder="Write a message…"
          maxLength={maxBody}
          multiline
        />
        <Pressable style={styles.send} onPress={send} accessibilityRole="button">
          <Text style={styles.sendText}>Send</Text>
        </Pressable>
      </View>
    </KeyboardAvoidingView>
  );
}

const styles = StyleSheet.create({
  screen: { flex: 1, backgroundColor: "#f3f4f6" },
  presence: { padding: 10, fontSize: 13, color: "#fff", backgroundColor: "#2563eb" },
  reconnecting: { padding: 6, fontSize: 13, color: "#92400e", backgroundColor: "#fef3c7", textAlign: "center" },
  msg: { marginHorizontal: 12, marginVertical: 4 },
  mine: { alignItems: "flex-end" },
  theirs: { alignItems: "flex-start" },
  system: { alignItems: "center" },
  name: { fontSize: 12, color: "#6b7280", marginBottom: 2 },
  bubble: { maxWidth: "80%", paddingHorizontal: 14, paddingVertical: 9, borderRadius: 18, fontSize: 15, overflow: "hidden" },
  mineBubble: { color: "#fff", backgroundColor: "#2563eb" },
  theirsBubble: { color: "#111827", backgroundColor: "#fff" },
  systemBubble: { color: "#4b5563", backgroundColor: "#e5e7eb", fontSize: 13 },
  state: { fontSize: 11, color: "#9ca3af", marginTop: 2 },
  composer: { flexDirection: "row", alignItems: "flex-end", padding: 10, backgroundColor: "#fff", borderTopWidth: 1, borderTopColor: "#e5e7eb" },
  input: { flex: 1, minHeight: 40, maxHeight: 120, paddingHorizontal: 14, paddingVertical: 9, borderWidth: 1, borderColor: "#d1d5db", borderRadius: 20, fontSize: 15 },
  send: { marginLeft: 8, height: 40, paddingHorizontal: 18, justifyContent: "center", borderRadius: 20, backgroundColor: "#2563eb" },
  sendText: { color: "#fff", fontWeight: "600" },
});
