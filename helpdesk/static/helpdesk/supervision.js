/*
 * Live supervision (/supervision/): renders the `supervision` frames of /ws/supervisor/
 * (docs/protocol.md, "Supervision") and sends a supervisor's actions: open a conversation
 * (`conversation.open` → `history`), reassign it (`conversation.transfer`), take it over
 * (`conversation.take`). The socket is client-core.js's Connection (reconnects with backoff);
 * the server sends the whole view again after every change, so a reconnect needs no cursor.
 * Waiting times tick here every second, coloured against each team's target.
 */
(() => {
  "use strict";

  const cfg = JSON.parse(document.getElementById("sv-config").textContent);
  const STRINGS = {
    en: {
      title: "Supervision",
      online: "Live",
      connecting: "Connecting…",
      offline: "Offline, reconnecting…",
      atRisk: "At risk",
      noRisk: "Nothing at risk.",
      noTeams: "You supervise no team yet. A manager of a team, or an administrator of a site, sees its queue here.",
      queue: "Queue",
      agents: "Agents",
      waitingN: (n) => `${n} waiting`,
      target: (t) => `target ${t}`,
      emptyQueue: "Nobody is waiting.",
      noAgents: "No agents in this team.",
      open: "Open",
      take: "Take over",
      reassign: "Reassign",
      reassignTo: "Reassign to",
      waitingFor: "waiting for an agent",
      with: (name) => `with ${name}`,
      escalated: (n) => `escalated ×${n}`,
      reminders: (n) => `${n} reminder${n === 1 ? "" : "s"}`,
      priority: { 2: "high", 3: "urgent" },
      status: { online: "online", away: "away", offline: "offline" },
      team: "Team",
      agent: "Agent",
      moved: "Reassigned.",
      taken: "It is yours now: answer it in the inbox.",
      answer: "Answer in the inbox",
      noProfile: "Taking over needs an agent profile (ask an administrator).",
      sessionEnded: "Your session has ended: sign in again.",
      close: "Close",
      inbox: "Inbox",
      reports: "Reports",
      backOffice: "Back office",
      system: "Helpdesk",
      visitor: "Visitor",
    },
    zh: {
      title: "实时监控",
      online: "实时",
      connecting: "连接中…",
      offline: "已断开，正在重连…",
      atRisk: "风险会话",
      noRisk: "暂无风险会话。",
      noTeams: "您还没有监管的团队。团队主管或网站管理员可以在这里看到排队情况。",
      queue: "排队",
      agents: "客服",
      waitingN: (n) => `${n} 人等待`,
      target: (t) => `目标 ${t}`,
      emptyQueue: "无人等待。",
      noAgents: "该团队没有客服。",
      open: "查看",
      take: "接手",
      reassign: "转接",
      reassignTo: "转接给",
      waitingFor: "等待分配客服",
      with: (name) => `由 ${name} 处理`,
      escalated: (n) => `已升级 ×${n}`,
      reminders: (n) => `已提醒 ${n} 次`,
      priority: { 2: "高", 3: "紧急" },
      status: { online: "在线", away: "离开", offline: "离线" },
      team: "团队",
      agent: "客服",
      moved: "已转接。",
      taken: "已由您接手，请在收件箱中回复。",
      answer: "在收件箱中回复",
      noProfile: "接手需要客服身份（请联系管理员）。",
      sessionEnded: "登录已过期，请重新登录。",
      close: "关闭",
      inbox: "收件箱",
      reports: "报表",
      backOffice: "后台",
      system: "系统",
      visitor: "访客",
    },
  };
  const LANG = /^zh\b/i.test(navigator.language || "") ? "zh" : "en";
  const t = (key) => (STRINGS[LANG][key] !== undefined ? STRINGS[LANG][key] : STRINGS.en[key]);
  const $ = (id) => document.getElementById(id);

  document.documentElement.lang = LANG === "zh" ? "zh-CN" : "en";
  document.title = `${t("title")} · Helpdesk`;
  $("sv-title").textContent = t("title");
  $("sv-risk-label").textContent = t("atRisk");
  $("sv-risk-none").textContent = t("noRisk");
  $("sv-d-move-label").textContent = t("reassignTo");
  $("sv-d-move").textContent = t("reassign");
  $("sv-d-take").textContent = t("take");
  $("sv-d-inbox").textContent = t("answer");
  $("sv-d-close").setAttribute("aria-label", t("close"));
  for (const [id, key] of [["sv-link-inbox", "inbox"], ["sv-link-reports", "reports"], ["sv-link-admin", "backOffice"]]) {
    if ($(id)) $(id).textContent = t(key);
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }

  // ---- waiting times: "3:07", "1 h 12", coloured against the team's target --------------------------
  function clock(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    if (s < 3600) return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
    const h = Math.floor(s / 3600);
    return h < 48 ? `${h} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}` : `${Math.floor(h / 24)} d`;
  }
  function level(seconds, target) {
    if (!target) return "ok";
    return seconds >= target ? "late" : seconds >= target / 2 ? "warn" : "ok";
  }
  let skew = 0; // server clock minus ours, from each frame's `at`
  function tick() {
    const now = Date.now() + skew;
    for (const node of document.querySelectorAll("[data-since]")) {
      const since = Date.parse(node.dataset.since);
      if (Number.isNaN(since)) continue;
      const seconds = (now - since) / 1000;
      node.textContent = clock(seconds);
      node.dataset.level = level(seconds, Number(node.dataset.target));
    }
  }
  setInterval(tick, 1000);

  function waitBadge(since, target) {
    const node = el("span", "sv-wait");
    if (since) {
      node.dataset.since = since;
      node.dataset.target = String(target || 0);
    } else {
      node.textContent = "–";
    }
    return node;
  }

  // ---- rendering the view -----------------------------------------------------------------------------
  let view = null;
  const targets = new Map(); // group id -> target seconds

  function badges(item) {
    const out = el("span", "sv-badges");
    const p = t("priority")[item.priority];
    if (p) out.appendChild(el("span", `sv-badge sv-badge--p${item.priority}`, p));
    if (item.escalation_level > 0) out.appendChild(el("span", "sv-badge sv-badge--esc", t("escalated")(item.escalation_level)));
    if (item.reminders > 0) out.appendChild(el("span", "sv-badge", t("reminders")(item.reminders)));
    return out;
  }

  function conversationRow(item, withTeam) {
    const li = el("li", "sv-item");
    li.dataset.id = item.id;
    li.appendChild(waitBadge(item.waiting_since, targets.get(item.group_id)));
    const who = el("div", "sv-who");
    who.appendChild(el("strong", null, item.visitor));
    const sub = [item.site];
    if (withTeam) sub.push(teamName(item.group_id));
    if (withTeam) sub.push(item.agent ? t("with")(item.agent) : t("waitingFor"));
    who.appendChild(el("span", "sv-sub", sub.filter(Boolean).join(" · ")));
    li.appendChild(who);
    li.appendChild(badges(item));
    const open = el("button", "btn btn-ghost btn-sm", t("open"));
    open.type = "button";
    open.dataset.open = item.id;
    li.appendChild(open);
    return li;
  }

  function teamName(groupId) {
    const team = view && view.groups.find((g) => g.id === groupId);
    return team ? team.name : "";
  }

  function agentRow(agent) {
    const li = el("li", "sv-agent");
    li.dataset.agentId = String(agent.id);
    const state = !agent.online ? "offline" : agent.status === "away" ? "away" : "online";
    const head = el("div", "sv-agent-head");
    const dot = el("span", "sv-dot");
    dot.dataset.state = state;
    head.appendChild(dot);
    head.appendChild(el("strong", null, agent.name));
    head.appendChild(el("span", "sv-sub", t("status")[state]));
    const load = el("span", "sv-load");
    const bar = el("span", "sv-bar");
    const fill = el("span", "sv-fill");
    const share = agent.capacity ? Math.min(1, agent.load / agent.capacity) : agent.load ? 1 : 0;
    fill.style.width = `${Math.round(share * 100)}%`;
    fill.dataset.full = String(agent.capacity > 0 && agent.load >= agent.capacity);
    bar.appendChild(fill);
    load.appendChild(bar);
    load.appendChild(el("span", "sv-load-text", `${agent.load}/${agent.capacity}`));
    head.appendChild(load);
    li.appendChild(head);
    if (agent.conversations.length) {
      const chips = el("div", "sv-chips");
      for (const c of agent.conversations) {
        const chip = el("button", "sv-chip");
        chip.type = "button";
        chip.dataset.open = c.id;
        chip.appendChild(el("span", null, c.visitor));
        if (c.waiting_since) chip.appendChild(waitBadge(c.waiting_since, targets.get(agentTeam(agent.id))));
        chips.appendChild(chip);
      }
      li.appendChild(chips);
    }
    return li;
  }

  function agentName(agentId) {
    const found = view && view.targets.agents.find((a) => a.id === agentId);
    return found ? found.name : null;
  }

  function agentTeam(agentId) {
    for (const g of view.groups) if (g.agents.some((a) => a.id === agentId)) return g.id;
    return null;
  }

  function teamSection(group) {
    const section = el("section", "sv-team");
    section.dataset.groupId = String(group.id);
    const head = el("header", "sv-team-head");
    head.appendChild(el("h2", null, group.name));
    const count = el("span", "sv-count", t("waitingN")(group.waiting_count));
    count.dataset.waiting = String(group.waiting_count);
    head.appendChild(count);
    head.appendChild(el("span", "sv-sub", t("target")(clock(group.target_seconds))));
    section.appendChild(head);
    const cols = el("div", "sv-cols");
    const queue = el("div", "sv-col");
    queue.appendChild(el("h3", null, t("queue")));
    const ql = el("ul", "sv-list sv-queue");
    for (const item of group.waiting) ql.appendChild(conversationRow(item, false));
    queue.appendChild(ql);
    if (!group.waiting.length) queue.appendChild(el("p", "sv-none", t("emptyQueue")));
    const agents = el("div", "sv-col");
    agents.appendChild(el("h3", null, t("agents")));
    const al = el("ul", "sv-list sv-agents");
    for (const agent of group.agents) al.appendChild(agentRow(agent));
    agents.appendChild(al);
    if (!group.agents.length) agents.appendChild(el("p", "sv-none", t("noAgents")));
    cols.appendChild(queue);
    cols.appendChild(agents);
    section.appendChild(cols);
    return section;
  }

  function render(frame) {
    view = frame;
    const at = Date.parse(frame.at);
    if (!Number.isNaN(at)) skew = at - Date.now();
    targets.clear();
    for (const g of frame.groups) targets.set(g.id, g.target_seconds);
    const risk = $("sv-risk-list");
    risk.replaceChildren(...frame.at_risk.map((item) => conversationRow(item, true)));
    $("sv-risk-count").textContent = String(frame.at_risk.length);
    $("sv-risk-none").hidden = frame.at_risk.length > 0;
    $("sv-risk").dataset.risk = String(frame.at_risk.length > 0);
    $("sv-teams").replaceChildren(...frame.groups.map(teamSection));
    $("sv-empty").hidden = frame.groups.length > 0;
    $("sv-empty").textContent = t("noTeams");
    fillTargets(frame.targets);
    tick();
  }

  // ---- one conversation: history and actions --------------------------------------------------------
  const dialog = $("sv-dialog");
  let openId = null;

  function fillTargets(options) {
    const select = $("sv-d-target");
    const keep = select.value;
    select.replaceChildren();
    for (const [label, list, kind] of [[t("agent"), options.agents, "agent"], [t("team"), options.groups, "group"]]) {
      const group = el("optgroup");
      group.label = label;
      for (const o of list) {
        const option = el("option", null, o.name);
        option.value = `${kind}:${o.id}`;
        group.appendChild(option);
      }
      select.appendChild(group);
    }
    if (keep) select.value = keep;
  }

  function openConversation(id) {
    openId = id;
    $("sv-d-title").textContent = "…";
    $("sv-d-sub").textContent = "";
    $("sv-d-thread").replaceChildren();
    $("sv-d-note").textContent = "";
    $("sv-d-inbox").hidden = true;
    $("sv-d-take").disabled = !cfg.agent;
    $("sv-d-take").title = cfg.agent ? "" : t("noProfile");
    if (!dialog.open) dialog.showModal();
    socket.send({ type: "conversation.open", conversation_id: id });
  }

  function showHistory(frame) {
    const c = frame.conversation;
    if (!c || c.id !== openId) return;
    $("sv-d-title").textContent = (c.visitor && c.visitor.name) || t("visitor");
    const agent = c.assigned_agent_id != null ? agentName(c.assigned_agent_id) : null;
    const parts = [teamName(c.group_id), c.assigned_agent_id != null ? t("with")(agent || "…") : t("waitingFor")];
    $("sv-d-sub").textContent = parts.filter(Boolean).join(" · ");
    const thread = $("sv-d-thread");
    thread.replaceChildren(
      ...frame.messages.map((m) => {
        const li = el("li", `sv-msg sv-msg--${m.sender}`);
        const who = m.sender === "agent" ? m.agent_name : m.sender === "visitor" ? t("visitor") : t("system");
        li.appendChild(el("span", "sv-msg-who", who || ""));
        li.appendChild(el("span", "sv-msg-body", m.body));
        return li;
      })
    );
    thread.scrollTop = thread.scrollHeight;
    const mine = cfg.agent && view && c.assigned_agent_id != null && c.assigned_agent_id === view.me.agent_id;
    showInbox(mine ? c.id : null);
  }

  function showInbox(id) {
    const link = $("sv-d-inbox");
    link.hidden = !id;
    if (id) link.href = `/inbox/${id}/`;
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-open]");
    if (button) openConversation(button.dataset.open);
  });
  $("sv-d-move").addEventListener("click", () => {
    const [kind, id] = $("sv-d-target").value.split(":");
    if (!openId || !id) return;
    const frame = { type: "conversation.transfer", conversation_id: openId, to_agent_id: null, to_group_id: null };
    frame[kind === "agent" ? "to_agent_id" : "to_group_id"] = Number(id);
    socket.send(frame);
  });
  $("sv-d-take").addEventListener("click", () => {
    if (openId) socket.send({ type: "conversation.take", conversation_id: openId });
  });
  dialog.addEventListener("close", () => {
    openId = null;
  });

  // ---- the socket -------------------------------------------------------------------------------------
  function setConnection(state) {
    $("sv-conn").dataset.state = state;
    $("sv-conn").querySelector(".sv-conn-text").textContent = t(state);
  }

  function handleFrame(frame) {
    if (frame.type === "supervision") {
      setConnection("online");
      render(frame);
    } else if (frame.type === "history") {
      showHistory(frame);
    } else if (frame.type === "transferred") {
      if (frame.conversation_id !== openId) return;
      const taken = view && view.me.agent_id != null;
      $("sv-d-note").textContent = taken && lastAction === "take" ? t("taken") : t("moved");
      if (lastAction === "take") showInbox(frame.conversation_id);
      socket.send({ type: "conversation.open", conversation_id: frame.conversation_id });
    } else if (frame.type === "error") {
      $("sv-d-note").textContent = frame.detail || frame.code;
    }
  }

  let lastAction = null;
  const send = (frame) => {
    if (frame.type === "conversation.take") lastAction = "take";
    else if (frame.type === "conversation.transfer") lastAction = "move";
    return connection.send(frame);
  };
  const connection = HelpdeskCore.pageSocket(cfg.ws_path || "/ws/supervisor/", {
    onConnecting: () => setConnection("connecting"),
    onOpen() {}, // the server speaks first: the whole view
    onFrame: handleFrame,
    onClose(code) {
      setConnection("offline");
      if (code === 4401 || code === 4403) {
        $("sv-conn").querySelector(".sv-conn-text").textContent = t("sessionEnded");
        return "stop";
      }
      return "retry";
    },
  });
  const socket = { send };
  connection.connect();
})();
