namespace Monitor.Agent.Collectors.InfiniBand;

/// <summary>The sysfs folders under <c>ports/&lt;n&gt;/</c> that hold counters.</summary>
internal enum CounterSource
{
    /// <summary><c>counters/</c>: the IBA PortCounters (and, since kernel 4.5, their 64-bit extended values).</summary>
    Counters,

    /// <summary><c>counters_ext/</c>: pre-4.5 kernels' 64-bit PortCountersExtended, exported as <c>legacy_*</c>.</summary>
    CountersExt,

    /// <summary><c>hw_counters/</c>: the mlx5 (and irdma) driver's RDMA counters.</summary>
    HwCounters,
}

/// <summary>
/// One counter file and the node_exporter metric it becomes.
/// </summary>
/// <param name="Source">The folder it lives in.</param>
/// <param name="File">The file name.</param>
/// <param name="Metric">The metric name (node_exporter's, <c>node_infiniband_</c> prefixed).</param>
/// <param name="Help">node_exporter's HELP text.</param>
/// <param name="Multiplier">4 for the data counters (they count 4-octet words), else 1.</param>
/// <param name="Width">
/// Bits of the classic IBA PortCounters field the file shows when the HCA has no extended counters (0: none, the
/// value is 64-bit). Such a field stops at 2^Width − 1 instead of wrapping.
/// </param>
/// <param name="Divisor">Integer divisor applied before export (1000 for <c>lifespan</c>, milliseconds to seconds); 1 otherwise.</param>
internal sealed record InfiniBandCounter(CounterSource Source, string File, string Metric, string Help, ulong Multiplier = 1, int Width = 0, ulong Divisor = 1)
{
    /// <summary>The largest value a <see cref="Width"/>-bit field holds, where it saturates.</summary>
    public ulong SaturatedValue => Width == 0 ? 0 : Width == 64 ? ulong.MaxValue : (1UL << Width) - 1;

    /// <summary>True for the gauge (<c>lifespan_seconds</c>); every other entry is a counter.</summary>
    public bool IsGauge => Divisor != 1;

    private const string Ofed41 = " The counters was added in MLNX_OFED 4.1";
    private const string Ofed50 = " The counter was added in MLNX_OFED rev 5.0-1.0.0.0 and kernel v5.6.0";

    /// <summary>
    /// Every counter file node_exporter knows, with its names and HELP texts (the <c>counters/</c> and
    /// <c>counters_ext/</c> entries as 1.5.0 prints them; the <c>hw_counters/</c> entries as 1.11+ prints them). Files
    /// not listed are ignored, as in node_exporter. Widths are the IBA 1.3 PortCounters attribute fields (table 247).
    /// </summary>
    public static IReadOnlyList<InfiniBandCounter> All { get; } =
    [
        new(CounterSource.Counters, "excessive_buffer_overrun_errors", "excessive_buffer_overrun_errors_total", "Number of times that OverrunErrors consecutive flow control update periods occurred, each having at least one overrun error.", Width: 4),
        new(CounterSource.Counters, "link_downed", "link_downed_total", "Number of times the link failed to recover from an error state and went down", Width: 8),
        new(CounterSource.Counters, "link_error_recovery", "link_error_recovery_total", "Number of times the link successfully recovered from an error state", Width: 8),
        new(CounterSource.Counters, "local_link_integrity_errors", "local_link_integrity_errors_total", "Number of times that the count of local physical errors exceeded the threshold specified by LocalPhyErrors.", Width: 4),
        new(CounterSource.Counters, "multicast_rcv_packets", "multicast_packets_received_total", "Number of multicast packets received (including errors)"),
        new(CounterSource.Counters, "multicast_xmit_packets", "multicast_packets_transmitted_total", "Number of multicast packets transmitted (including errors)"),
        new(CounterSource.Counters, "port_rcv_constraint_errors", "port_constraint_errors_received_total", "Number of packets received on the switch physical port that are discarded", Width: 8),
        new(CounterSource.Counters, "port_xmit_constraint_errors", "port_constraint_errors_transmitted_total", "Number of packets not transmitted from the switch physical port", Width: 8),
        new(CounterSource.Counters, "port_rcv_data", "port_data_received_bytes_total", "Number of data octets received on all links", Multiplier: 4, Width: 32),
        new(CounterSource.Counters, "port_xmit_data", "port_data_transmitted_bytes_total", "Number of data octets transmitted on all links", Multiplier: 4, Width: 32),
        new(CounterSource.Counters, "port_rcv_discards", "port_discards_received_total", "Number of inbound packets discarded by the port because the port is down or congested"),
        new(CounterSource.Counters, "port_xmit_discards", "port_discards_transmitted_total", "Number of outbound packets discarded by the port because the port is down or congested", Width: 16),
        new(CounterSource.Counters, "port_rcv_errors", "port_errors_received_total", "Number of packets containing an error that were received on this port", Width: 16),
        new(CounterSource.Counters, "port_rcv_packets", "port_packets_received_total", "Number of packets received on all VLs by this port (including errors)", Width: 32),
        new(CounterSource.Counters, "port_xmit_packets", "port_packets_transmitted_total", "Number of packets transmitted on all VLs from this port (including errors)", Width: 32),
        new(CounterSource.Counters, "port_rcv_remote_physical_errors", "port_receive_remote_physical_errors_total", "Number of packets marked with the EBP (End of Bad Packet) delimiter received on the port.", Width: 16),
        new(CounterSource.Counters, "port_rcv_switch_relay_errors", "port_receive_switch_relay_errors_total", "Number of packets that could not be forwarded by the switch.", Width: 16),
        new(CounterSource.Counters, "port_xmit_wait", "port_transmit_wait_total", "Number of ticks during which the port had data to transmit but no data was sent during the entire tick", Width: 32),
        new(CounterSource.Counters, "symbol_error", "symbol_error_total", "Number of minor link errors detected on one or more physical lanes.", Width: 16),
        new(CounterSource.Counters, "unicast_rcv_packets", "unicast_packets_received_total", "Number of unicast packets received (including errors)"),
        new(CounterSource.Counters, "unicast_xmit_packets", "unicast_packets_transmitted_total", "Number of unicast packets transmitted (including errors)"),
        new(CounterSource.Counters, "VL15_dropped", "vl15_dropped_total", "Number of incoming VL15 packets dropped due to resource limitations.", Width: 16),

        new(CounterSource.CountersExt, "port_multicast_rcv_packets", "legacy_multicast_packets_received_total", "Number of multicast packets received"),
        new(CounterSource.CountersExt, "port_multicast_xmit_packets", "legacy_multicast_packets_transmitted_total", "Number of multicast packets transmitted"),
        new(CounterSource.CountersExt, "port_rcv_data_64", "legacy_data_received_bytes_total", "Number of data octets received on all links", Multiplier: 4),
        new(CounterSource.CountersExt, "port_rcv_packets_64", "legacy_packets_received_total", "Number of data packets received on all links"),
        new(CounterSource.CountersExt, "port_unicast_rcv_packets", "legacy_unicast_packets_received_total", "Number of unicast packets received"),
        new(CounterSource.CountersExt, "port_unicast_xmit_packets", "legacy_unicast_packets_transmitted_total", "Number of unicast packets transmitted"),
        new(CounterSource.CountersExt, "port_xmit_data_64", "legacy_data_transmitted_bytes_total", "Number of data octets transmitted on all links", Multiplier: 4),
        new(CounterSource.CountersExt, "port_xmit_packets_64", "legacy_packets_transmitted_total", "Number of data packets received on all links"),

        new(CounterSource.HwCounters, "duplicate_request", "duplicate_requests_packets_total", "The number of received packets. A duplicate request is a request that had been previously executed."),
        new(CounterSource.HwCounters, "implied_nak_seq_err", "implied_nak_seq_errors_total", "The number of time the requested decided an ACK. with a PSN larger than the expected PSN for an RDMA read or response."),
        new(CounterSource.HwCounters, "lifespan", "lifespan_seconds", "The maximum period in ms which defines the aging of the counter reads. Two consecutive reads within this period might return the same values.", Divisor: 1000),
        new(CounterSource.HwCounters, "local_ack_timeout_err", "local_ack_timeout_errors_total", "The number of times QP's ack timer expired for RC, XRC, DCT QPs at the sender side. The QP retry limit was not exceed, therefore it is still recoverable error."),
        new(CounterSource.HwCounters, "np_cnp_sent", "np_cnp_packets_sent_total", "The number of CNP packets sent by the Notification Point when it noticed congestion experienced in the RoCEv2 IP header (ECN bits)." + Ofed41),
        new(CounterSource.HwCounters, "np_ecn_marked_roce_packets", "np_ecn_marked_roce_packets_received_total", "The number of RoCEv2 packets received by the notification point which were marked for experiencing the congestion (ECN bits where '11' on the ingress RoCE traffic) ." + Ofed41),
        new(CounterSource.HwCounters, "out_of_buffer", "out_of_buffer_drops_total", "The number of drops occurred due to lack of WQE for the associated QPs."),
        new(CounterSource.HwCounters, "out_of_sequence", "out_of_sequence_packets_received_total", "The number of out of sequence packets received."),
        new(CounterSource.HwCounters, "packet_seq_err", "packet_sequence_errors_total", "The number of received NAK sequence error packets. The QP retry limit was not exceeded."),
        new(CounterSource.HwCounters, "req_cqe_error", "req_cqes_errors_total", "The number of times requester detected CQEs completed with errors." + Ofed41),
        new(CounterSource.HwCounters, "req_cqe_flush_error", "req_cqes_flush_errors_total", "The number of times requester detected CQEs completed with flushed errors." + Ofed41),
        new(CounterSource.HwCounters, "req_remote_access_errors", "req_remote_access_errors_total", "The number of times requester detected remote access errors." + Ofed41),
        new(CounterSource.HwCounters, "req_remote_invalid_request", "req_remote_invalid_request_errors_total", "The number of times requester detected remote invalid request errors." + Ofed41),
        new(CounterSource.HwCounters, "resp_cqe_error", "resp_cqes_errors_total", "The number of times responder detected CQEs completed with errors." + Ofed41),
        new(CounterSource.HwCounters, "resp_cqe_flush_error", "resp_cqes_flush_errors_total", "The number of times responder detected CQEs completed with flushed errors." + Ofed41),
        new(CounterSource.HwCounters, "resp_local_length_error", "resp_local_length_errors_total", "The number of times responder detected local length errors." + Ofed41),
        new(CounterSource.HwCounters, "resp_remote_access_errors", "resp_remote_access_errors_total", "The number of times responder detected remote access errors." + Ofed41),
        new(CounterSource.HwCounters, "rnr_nak_retry_err", "rnr_nak_retry_packets_received_total", "The number of received RNR NAK packets. The QP retry limit was not exceeded."),
        new(CounterSource.HwCounters, "roce_adp_retrans", "roce_adp_retransmits_total", "The number of adaptive retransmissions for RoCE traffic." + Ofed50),
        new(CounterSource.HwCounters, "roce_adp_retrans_to", "roce_adp_retransmits_timeout_total", "The number of times RoCE traffic reached timeout due to adaptive retransmission." + Ofed50),
        new(CounterSource.HwCounters, "roce_slow_restart", "roce_slow_restart_total", "The number of times RoCE slow restart changed state to slow restart." + Ofed50),
        new(CounterSource.HwCounters, "roce_slow_restart_cnps", "roce_slow_restart_cnps_total", "The number of times RoCE slow restart generated CNP packets." + Ofed50),
        new(CounterSource.HwCounters, "roce_slow_restart_trans", "roce_slow_restart_used_total", "The number of times RoCE slow restart was used." + Ofed50),
        new(CounterSource.HwCounters, "rp_cnp_handled", "rp_cnp_packets_handled_total", "The number of CNP packets handled by the Reaction Point HCA to throttle the transmission rate." + Ofed41),
        new(CounterSource.HwCounters, "rp_cnp_ignored", "rp_cnp_ignored_packets_received_total", "The number of CNP packets received and ignored by the Reaction Point HCA. This counter should not raise if RoCE Congestion Control was enabled in the network. If this counter raise, verify that ECN was enabled on the adapter."),
        new(CounterSource.HwCounters, "rx_atomic_requests", "rx_atomic_requests_total", "The number of received ATOMIC request for the associated QPs."),
        new(CounterSource.HwCounters, "rx_dct_connect", "rx_dct_connect_requests_total", "The number of received connection requests for the associated DCTs."),
        new(CounterSource.HwCounters, "rx_icrc_encapsulated", "rx_icrc_encapsulated_errors_total", "The number of RoCE packets with ICRC errors. This counter was added in MLNX_OFED 4.4 and kernel 4.19"),
        new(CounterSource.HwCounters, "rx_read_requests", "rx_read_requests_total", "The number of received READ requests for the associated QPs."),
        new(CounterSource.HwCounters, "rx_write_requests", "rx_write_requests_total", "The number of received WRITE requests for the associated QPs."),
    ];

    /// <summary>The entry for <paramref name="file"/> in <paramref name="source"/>, or null when node_exporter ignores the file.</summary>
    public static InfiniBandCounter? Find(CounterSource source, ReadOnlySpan<char> file)
    {
        foreach (var counter in All)
        {
            if (counter.Source == source && file.SequenceEqual(counter.File))
            {
                return counter;
            }
        }

        return null;
    }
}
