// The helpdesk this mini-program talks to. Add its host to the mini-program's legal domains
// (request: https://…, socket: wss://…) in the WeChat admin console.
App({
  globalData: {
    helpdesk: { url: "https://helpdesk.example.com", siteKey: "wk_yourSiteKey" },
  },
});
